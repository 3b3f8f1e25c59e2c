/*
 * colormap.c - the colour map: a viridis-like perceptual ramp.
 *
 * Viridis (van der Walt and Smith, for matplotlib 2.0) runs from dark
 * purple through blue and green to yellow with lightness rising steadily,
 * so equal steps in weight look like equal steps in colour, and it reads
 * in grey and for the common kinds of colour blindness. The table below
 * holds nine anchor colours of that ramp at 0, 1/8, ..., 1 (the published
 * nine-colour palette); between anchors we interpolate linearly in sRGB,
 * which stays within a unit or two of the full 256-entry table.
 */
#include "viz.h"

#include <math.h>

static const uint8_t anchors[9][3] = {
    {0x44, 0x01, 0x54}, /* 0     dark purple */
    {0x47, 0x2D, 0x7B}, /* 0.125             */
    {0x3B, 0x52, 0x8B}, /* 0.25  blue        */
    {0x2C, 0x72, 0x8E}, /* 0.375             */
    {0x21, 0x90, 0x8C}, /* 0.5   teal        */
    {0x27, 0xAD, 0x81}, /* 0.625             */
    {0x5D, 0xC8, 0x63}, /* 0.75  green       */
    {0xAA, 0xDC, 0x32}, /* 0.875             */
    {0xFD, 0xE7, 0x25}, /* 1     yellow      */
};

void at_viz_colour(float value, uint8_t rgb[3]) {
    double t = isnan(value) ? 0.0 : value < 0 ? 0.0 : value > 1 ? 1.0 : (double)value;
    double pos = t * 8.0;
    int i = (int)pos;
    if (i > 7) i = 7;
    double f = pos - i;
    for (int k = 0; k < 3; k++) {
        double c = anchors[i][k] + f * (anchors[i + 1][k] - anchors[i][k]);
        rgb[k] = (uint8_t)lround(c);
    }
}
