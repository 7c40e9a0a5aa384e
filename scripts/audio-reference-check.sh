#!/usr/bin/env bash
# Checks `scalekit mix` (FFmpegAudioMixer) against an independent rendering of
# the same timeline by the ffmpeg command-line tool (concat demuxer + amix,
# scripts/audio-reference/ffmpeg_ref.py).
#
#   scripts/audio-reference-check.sh            # 10 speech clips, about 30 s
#   AUDIO_REFERENCE_CLIPS=200 scripts/audio-reference-check.sh
#
# Needs: ffmpeg, espeak-ng, python3 with venv; numpy is installed into a venv
# under .build/ on first use (PyPI must be reachable then).
# Asserts, against the ffmpeg rendering:
#   WAV: zero lag, identical length, identical samples (SNR infinite),
#        SNR >= 60 dB overall and >= 40 dB per clip
#   M4A (AAC 192k): zero lag, length within 1024 frames, SNR >= 15 dB,
#                   per-clip level difference <= 0.5 dB
# and, against ffmpeg's ebur128 filter (peak=true):
#   loudness: our integrated loudness of the plain WAV render within 0.1 LU
#             of ffmpeg's and true peak within 0.2 dB; `--target-lufs -23`
#             lands within 0.5 LU of -23; `--target-lufs -16` lands within
#             0.5 LU of -16, or, where the -1 dBTP ceiling limits the gain
#             (the speech workload peaks about 18 dB above its loudness), of
#             the measured loudness plus the gain; both under the ceiling (+0.2)
# and, on a timeline mixing MP3, Opus, FLAC and WAV clips at 16-48 kHz, mono
# and stereo, overlapping (scripts/audio-reference/mixed_formats.py), against
# ffmpeg's adelay + amix (normalize=0) rendering of it, both 32-bit float:
#   identical length, SNR >= 80 dB overall
# and trim + fades (a mix) and an equal-power crossfade (a join) against
# ffmpeg's atrim, afade and acrossfade, both 32-bit float:
#   identical length, SNR >= 80 dB
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=$ROOT/scripts/audio-reference
CLIPS=${AUDIO_REFERENCE_CLIPS:-10}
WORK=${AUDIO_REFERENCE_WORK:-$ROOT/.build/audio-reference}
VENV=${AUDIO_REFERENCE_VENV:-$ROOT/.build/audio-reference-venv}

for tool in ffmpeg espeak-ng python3; do
    command -v "$tool" >/dev/null || { echo "audio-reference-check: $tool is not installed" >&2; exit 2; }
done

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet numpy
fi
PY=$VENV/bin/python

if [ -z "${SCALEKIT_BIN:-}" ]; then
    (cd "$ROOT" && swift build --product scalekit >/dev/null)
    SCALEKIT_BIN=$(cd "$ROOT" && swift build --show-bin-path)/scalekit
fi

W=$WORK/w$CLIPS
mkdir -p "$W"
# A short background keeps the default check quick; large workloads use the reference's 10 minutes.
BG_MIN=$([ "$CLIPS" -le 20 ] && echo 20 || echo 600)
"$PY" "$REF/gen_workload.py" "$CLIPS" "$W" --bg-min-seconds "$BG_MIN"

"$PY" "$REF/ffmpeg_ref.py" concat-demux "$W" "$WORK/ref$CLIPS.wav"
"$SCALEKIT_BIN" mix "$W/timeline.json" -o "$WORK/scalekit$CLIPS.wav" --quiet --json >"$WORK/summary-wav$CLIPS.json"
# ffmpeg's own meter; its summary goes to stderr with a line per 100 ms before it.
ffmpeg -nostdin -nostats -i "$WORK/scalekit$CLIPS.wav" -af ebur128=peak=true -f null - 2>"$WORK/ebur128-wav$CLIPS.log"
for target in 16 23; do
    "$SCALEKIT_BIN" mix "$W/timeline.json" -o "$WORK/scalekit$CLIPS-$target.wav" --quiet --json --target-lufs -$target >"$WORK/summary-$target-$CLIPS.json"
    ffmpeg -nostdin -nostats -i "$WORK/scalekit$CLIPS-$target.wav" -af ebur128=peak=true -f null - 2>"$WORK/ebur128-$target-$CLIPS.log"
done
"$SCALEKIT_BIN" mix "$W/timeline.json" -o "$WORK/scalekit$CLIPS.m4a" --bitrate 192k --quiet

MIXED=$WORK/mixed-formats
rm -rf "$MIXED"
"$PY" "$REF/mixed_formats.py" generate "$MIXED"
"$PY" "$REF/mixed_formats.py" render "$MIXED" "$MIXED/ref.wav"
"$SCALEKIT_BIN" mix "$MIXED/timeline.json" -o "$MIXED/scalekit.wav" --float --quiet
"$PY" "$REF/mixed_formats.py" compare "$MIXED/ref.wav" "$MIXED/scalekit.wav" --json >"$WORK/compare-mixed-formats.json"

SHAPING=$WORK/shaping
rm -rf "$SHAPING"
"$PY" "$REF/mixed_formats.py" shaping "$SHAPING"
"$SCALEKIT_BIN" mix "$SHAPING/shaped.json" -o "$SHAPING/shaped.wav" --float --quiet
"$SCALEKIT_BIN" join "$SHAPING/a.wav" "$SHAPING/b.wav" -o "$SHAPING/crossfade.wav" --float --quiet --crossfade 0.25 --crossfade-curve equal-power
"$PY" "$REF/mixed_formats.py" compare "$SHAPING/shaped-ref.wav" "$SHAPING/shaped.wav" --json >"$WORK/compare-shaped.json"
"$PY" "$REF/mixed_formats.py" compare "$SHAPING/crossfade-ref.wav" "$SHAPING/crossfade.wav" --json >"$WORK/compare-crossfade.json"

"$PY" "$REF/compare.py" "$WORK/ref$CLIPS.wav" "$WORK/scalekit$CLIPS.wav" --timeline "$W/timeline.json" --json >"$WORK/compare-wav$CLIPS.json"
"$PY" "$REF/compare.py" "$WORK/ref$CLIPS.wav" "$WORK/scalekit$CLIPS.m4a" --timeline "$W/timeline.json" --json >"$WORK/compare-m4a$CLIPS.json"

"$PY" - "$WORK/compare-wav$CLIPS.json" "$WORK/compare-m4a$CLIPS.json" \
    "$WORK/summary-wav$CLIPS.json" "$WORK/summary-16-$CLIPS.json" "$WORK/summary-23-$CLIPS.json" \
    "$WORK/ebur128-wav$CLIPS.log" "$WORK/ebur128-16-$CLIPS.log" "$WORK/ebur128-23-$CLIPS.log" \
    "$WORK/compare-mixed-formats.json" "$WORK/compare-shaped.json" "$WORK/compare-crossfade.json" <<'PYEOF'
import json, re, sys
wav, m4a, plain, to16, to23 = (json.load(open(p)) for p in sys.argv[1:6])
mixed, shaped, crossfade = (json.load(open(p)) for p in sys.argv[9:12])

def ebur128(path):
    """ffmpeg's summary: integrated loudness (LUFS) and true peak (dBTP)."""
    summary = open(path).read().split("Summary:")[-1]
    integrated = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
    peak = float(re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return integrated, peak

ref_plain, ref16, ref23 = (ebur128(p) for p in sys.argv[6:9])
ours = plain["loudness"]
plan16 = to16["normalisation"]
# Where the true-peak ceiling lowered the gain, the loudness the one gain can reach.
reach16 = plan16["before"]["integrated_lufs"] + plan16["gain_db"] if plan16["limited_by_true_peak"] else -16.0
checks = [
    ("WAV lag is 0", wav["lag_samples"] == 0, wav["lag_samples"]),
    ("WAV length is identical", wav["len_diff"] == 0, wav["len_diff"]),
    ("WAV SNR >= 60 dB", wav["snr_db"] >= 60, wav["snr_db"]),
    ("WAV samples bit-identical", wav["max_abs_diff_lsb16"] == 0, wav["max_abs_diff_lsb16"]),
    ("WAV per-clip SNR >= 40 dB", wav["clip_snr_db_min"] >= 40, wav["clip_snr_db_min"]),
    ("WAV L/R not swapped", wav["snr_db"] > wav["snr_db_LR_swapped"], wav["snr_db_LR_swapped"]),
    ("M4A lag is 0", m4a["lag_samples"] == 0, m4a["lag_samples"]),
    ("M4A length within 1024", abs(m4a["len_diff"]) <= 1024, m4a["len_diff"]),
    ("M4A SNR >= 15 dB", m4a["snr_db"] >= 15, m4a["snr_db"]),
    ("M4A per-clip level within 0.5 dB", m4a["clip_level_diff_db_maxabs"] <= 0.5, m4a["clip_level_diff_db_maxabs"]),
    ("loudness within 0.1 LU of ebur128", abs(ours["integrated_lufs"] - ref_plain[0]) <= 0.1, (ours["integrated_lufs"], ref_plain[0])),
    ("true peak within 0.2 dB of ebur128", abs(ours["true_peak_dbtp"] - ref_plain[1]) <= 0.2, (ours["true_peak_dbtp"], ref_plain[1])),
    ("--target-lufs -23 within 0.5 LU (ebur128)", abs(ref23[0] + 23) <= 0.5, ref23[0]),
    ("--target-lufs -23 true peak <= -1 dBTP + 0.2", ref23[1] <= -0.8, ref23[1]),
    (f"--target-lufs -16 within 0.5 LU of {reach16:.2f} (ebur128)", abs(ref16[0] - reach16) <= 0.5, (ref16[0], plan16)),
    ("--target-lufs -16 true peak <= -1 dBTP + 0.2", ref16[1] <= -0.8, ref16[1]),
    ("mixed formats: length identical to amix", mixed["frames_ref"] == mixed["frames_test"], (mixed["frames_ref"], mixed["frames_test"])),
    ("mixed formats: SNR >= 80 dB against amix", mixed["snr_db"] >= 80, mixed["snr_db"]),
    ("trim + fades: length identical to atrim/afade", shaped["frames_ref"] == shaped["frames_test"], (shaped["frames_ref"], shaped["frames_test"])),
    ("trim + fades: SNR >= 80 dB against atrim/afade", shaped["snr_db"] >= 80, shaped["snr_db"]),
    ("crossfade: length identical to acrossfade", crossfade["frames_ref"] == crossfade["frames_test"], (crossfade["frames_ref"], crossfade["frames_test"])),
    ("crossfade: SNR >= 80 dB against acrossfade", crossfade["snr_db"] >= 80, crossfade["snr_db"]),
]
failed = 0
for name, ok, value in checks:
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {value}")
    failed += not ok
print(f"wav: snr {wav['snr_db']} dB, per-clip min {wav['clip_snr_db_min']} dB, max diff {wav['max_abs_diff_lsb16']} LSB; "
      f"m4a: snr {m4a['snr_db']} dB, clip level diff {m4a['clip_level_diff_db_maxabs']} dB; "
      f"loudness: ours {ours['integrated_lufs']:.3f} LUFS / {ours['true_peak_dbtp']:.3f} dBTP, ebur128 {ref_plain[0]} / {ref_plain[1]}; "
      f"normalised to -23: ebur128 {ref23[0]} LUFS / {ref23[1]} dBTP; to -16: ebur128 {ref16[0]} LUFS / {ref16[1]} dBTP, "
      f"gain {plan16['gain_db']:.2f} dB{' (limited by the true-peak ceiling)' if plan16['limited_by_true_peak'] else ''}; "
      f"mixed formats: snr {mixed['snr_db']:.1f} dB, max diff {mixed['max_abs_diff']:.2e}; "
      f"trim + fades: snr {shaped['snr_db']} dB; crossfade: snr {crossfade['snr_db']} dB")
sys.exit(1 if failed else 0)
PYEOF
