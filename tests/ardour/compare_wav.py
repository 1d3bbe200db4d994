"""Compares the Ardour session test's bounced output with its input, file by file.

Bit-exact, except the plugin's documented rule (plugin/src/flush.rs): a subnormal input
sample leaves as a zero of the same sign. With --untouched, the output must
equal the input bit for bit, subnormals included (the control: a bounce without the
plugin); without it, the input must hold subnormals, so that the flushing proves the
plugin was in the path.

    python3 compare_wav.py [--untouched] INPUT.wav OUTPUT.wav
"""

import math
import sys

import float_wav


def main():
    untouched = sys.argv[1] == "--untouched"
    args = sys.argv[2:] if untouched else sys.argv[1:]
    inp, out = float_wav.read(args[0]), float_wav.read(args[1])
    if len(inp) != len(out):
        sys.exit(f"{args[1]}: {len(out)} samples, the input has {len(inp)}")
    bad, flushed = 0, 0
    for i, (x, y) in enumerate(zip(inp, out)):
        subnormal = x != 0.0 and abs(x) < 1.1754943508222875e-38
        want = math.copysign(0.0, x) if subnormal and not untouched else x
        flushed += subnormal
        same = (y == want and math.copysign(1.0, y) == math.copysign(1.0, want)) or (
            math.isnan(y) and math.isnan(want)
        )
        if not same:
            if bad < 5:
                print(f"sample {i}: in {x!r}, out {y!r}, want {want!r}")
            bad += 1
    if bad:
        sys.exit(f"{args[1]}: {bad} of {len(inp)} samples differ from the input")
    if not untouched and flushed == 0:
        sys.exit(f"{args[0]}: holds no subnormal sample, so nothing shows the plugin was in the path")
    nonzero = sum(1 for x in inp if x != 0.0)
    if nonzero < len(inp) // 2:
        sys.exit(f"{args[0]}: only {nonzero} of {len(inp)} samples are not silent: the feed did not land")
    kept = "kept" if untouched else "flushed to signed zeros"
    print(f"{len(inp)} samples as expected ({flushed} subnormal {kept}), {nonzero} not silent")


main()
