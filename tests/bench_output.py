"""bench_output.py - what the benchmark scripts' tests share: reading a
script's result, which must be exactly one JSON line on stdout with the
fields a test names, each of the type it names (tests/g2p_bench_test.py,
tests/lm_bench_test.py)."""
import json


def one_json_line(proc, what, fields, fail):
    """The JSON object proc printed, or None after calling fail(message) for
    a non-zero exit, other than one line, a line that is not JSON, or a field
    of `fields` (name -> type or tuple of types) missing or of another type
    (a bool never passes for a number)."""
    if proc.returncode != 0:
        fail(f"{what}: exit {proc.returncode}: {proc.stderr[-800:]}")
        return None
    lines = proc.stdout.splitlines()
    if len(lines) != 1:
        fail(f"{what}: {len(lines)} lines on stdout, expected exactly one JSON line")
        return None
    try:
        result = json.loads(lines[0])
    except ValueError as e:
        fail(f"{what}: stdout is not JSON ({e}): {lines[0][:200]}")
        return None
    for field, kind in fields.items():
        if field not in result:
            fail(f"{what}: no field {field!r}")
        elif not isinstance(result[field], kind) or isinstance(result[field], bool):
            fail(f"{what}: {field} = {result[field]!r} is not {kind}")
    return result if all(f in result for f in fields) else None
