"""Puts subnormal samples into a fixture file in place: every 997th sample becomes a
subnormal of its sign, so the bounced output can show the plugin's flushing rule.

    python3 subnormals.py FILE.wav
"""

import sys

import float_wav

STEP = 997
SUBNORMAL = 1e-40


def main():
    path = sys.argv[1]
    samples = float_wav.read(path)
    for i in range(0, len(samples), STEP):
        samples[i] = SUBNORMAL if samples[i] >= 0.0 else -SUBNORMAL
    float_wav.write_samples(path, samples)


main()
