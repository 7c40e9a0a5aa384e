#!/usr/bin/env python3
"""A timeline that mixes formats, rendered by the ffmpeg tool, for comparing with `scalekit mix`.

usage: mixed_formats.py generate DIR            # clips, background, DIR/timeline.json
       mixed_formats.py render DIR OUT.wav      # ffmpeg: adelay + amix (normalize=0), 32-bit float
       mixed_formats.py compare REF.wav TEST.wav [--json]
       mixed_formats.py shaping DIR             # trim/fade timeline, crossfade join, ffmpeg's renderings

The clips are short tones and noise bursts with fades (so that no codec has
to start or stop on a full-scale step), in MP3, Opus, FLAC and WAV, at 16,
22.05, 24, 32, 44.1 and 48 kHz, mono and stereo, with gains, overlapping one
another, over a 44.1 kHz stereo WAV background. Deterministic: ffmpeg's
lavfi sources and encoders with fixed settings.

The reference graph is ffmpeg's plainest rendering of the timeline: every
input decoded by ffmpeg's default decoder, its gain (`volume`), resampled to
48 kHz (`aresample`), mono copied to both channels at unity
(`pan=stereo|c0=c0|c1=c0`), delayed to its start frame (`adelay=…S`) and
summed with `amix=normalize=0`, written as 32-bit float so that 16-bit
rounding does not hide differences.
"""
import json, os, subprocess, sys

RATE_OUT = 48000
# (codec/extension, rate, channels, start s, gain dB, seconds, tone Hz)
CLIPS = [
    ("mp3", 44100, 2, 0.20, -6, 1.2, 330),
    ("opus", 48000, 1, 0.90, -3, 1.0, 523),
    ("flac", 16000, 1, 1.40, -8, 1.1, 262),
    ("wav", 22050, 2, 2.10, -4, 0.9, 392),
    ("mp3", 24000, 1, 2.50, -5, 1.3, 440),
    ("opus", 24000, 2, 3.30, -2, 0.8, 659),
    ("flac", 48000, 2, 3.60, -7, 1.0, 294),
    ("wav", 32000, 1, 4.30, 0, 0.7, 349),
    ("mp3", 16000, 2, 4.70, -9, 1.0, 587),
    ("opus", 16000, 1, 5.40, -6, 0.9, 494),
    ("flac", 44100, 1, 5.80, -3, 1.2, 370),
    ("wav", 48000, 2, 6.50, -5, 0.8, 415),
]
BACKGROUND_SECONDS = 8.0
ENCODE = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
    "opus": ["-c:a", "libopus", "-b:a", "96k"],
    "flac": ["-c:a", "flac"],
    "wav": ["-c:a", "pcm_s16le"],
}


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def generate(directory):
    os.makedirs(os.path.join(directory, "clips"), exist_ok=True)
    clips = []
    for i, (ext, rate, channels, start, gain, seconds, tone) in enumerate(CLIPS):
        name = f"clips/clip{i:02d}.{ext}"
        # A tone with a quieter noise under it, faded in and out over 30 ms; the right channel of stereo clips differs.
        left = f"0.4*sin(2*PI*{tone}*t)+0.05*(random(0)-0.5)"
        right = f"0.3*sin(2*PI*{tone * 1.5}*t)+0.05*(random(1)-0.5)"
        expr = left if channels == 1 else f"{left}|{right}"
        ffmpeg("-f", "lavfi", "-i", f"aevalsrc={expr}:s={rate}:d={seconds}",
               "-af", f"afade=t=in:d=0.03,afade=t=out:st={seconds - 0.03}:d=0.03",
               *ENCODE[ext], os.path.join(directory, name))
        clips.append({"file": name, "start": start, "gain_db": gain, "duration": seconds})
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc=0.1*sin(2*PI*110*t)+0.03*(random(2)-0.5)|0.1*sin(2*PI*165*t)+0.03*(random(3)-0.5):s=44100:d={BACKGROUND_SECONDS}",
           "-c:a", "pcm_s16le", os.path.join(directory, "bg.wav"))
    timeline = {"sample_rate_out": RATE_OUT, "channels_out": 2, "background": {"file": "bg.wav", "gain_db": -3}, "clips": clips}
    with open(os.path.join(directory, "timeline.json"), "w") as f:
        json.dump(timeline, f, indent=1)


def render(directory, out):
    timeline = json.load(open(os.path.join(directory, "timeline.json")))
    inputs = ["-i", os.path.join(directory, timeline["background"]["file"])]
    graph = [f"[0:a]aformat=sample_fmts=fltp,volume={timeline['background']['gain_db']}dB,aresample={RATE_OUT},"
             f"aformat=sample_fmts=fltp:channel_layouts=stereo[bg]"]
    for i, clip in enumerate(timeline["clips"], 1):
        inputs += ["-i", os.path.join(directory, clip["file"])]
        delay = int(round(clip["start"] * RATE_OUT))
        graph.append(f"[{i}:a]aformat=sample_fmts=fltp,volume={clip['gain_db']}dB,aresample={RATE_OUT},"
                     f"aformat=sample_fmts=fltp,pan=stereo|c0=c0|c1={'c0' if CLIPS[i - 1][2] == 1 else 'c1'},"
                     f"adelay=delays={delay}S:all=1[c{i}]")
    n = len(timeline["clips"]) + 1
    graph.append("[bg]" + "".join(f"[c{i}]" for i in range(1, n)) +
                 f"amix=inputs={n}:duration=first:dropout_transition=0:normalize=0[mix]")
    ffmpeg(*inputs, "-filter_complex", ";".join(graph), "-map", "[mix]", "-c:a", "pcm_f32le", out)


def shaping(directory):
    """Trim and fades (ffmpeg's atrim, afade) and a crossfaded join (acrossfade).

    Writes DIR/shaped.json (two clips: one trimmed, faded in linearly and out at
    equal power; one faded at its source's own end) with ffmpeg's rendering
    DIR/shaped-ref.wav, and DIR/a.wav, DIR/b.wav with ffmpeg's equal-power
    crossfade of 0.25 s DIR/crossfade-ref.wav; all 48 kHz stereo float.
    """
    os.makedirs(directory, exist_ok=True)
    clip = os.path.join(directory, "tone22k.wav")
    ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.4*sin(2*PI*440*t)+0.2*sin(2*PI*1250*t):s=22050:d=3", "-c:a", "pcm_s16le", clip)
    stereo = os.path.join(directory, "tone44k.wav")
    ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*330*t):s=44100:d=1.3", "-ac", "2", "-c:a", "pcm_s16le", stereo)
    timeline = {"sample_rate_out": RATE_OUT, "channels_out": 2, "clips": [
        {"file": "tone22k.wav", "start": 0.5, "gain_db": -6, "trim_start": 0.3, "trim_duration": 1.2,
         "fade_in": 0.2, "fade_in_curve": "linear", "fade_out": 0.4, "fade_out_curve": "equal_power"},
        {"file": "tone44k.wav", "start": 0.75, "gain_db": -3, "fade_in": 0.1, "fade_in_curve": "equal_power", "fade_out": 0.3},
    ]}
    with open(os.path.join(directory, "shaped.json"), "w") as f:
        json.dump(timeline, f, indent=1)
    # 1.3 s at 44.1 kHz is 62 400 frames at 48 kHz; each clip: gain, resampling, then the cut and the fades at 48 kHz.
    graph = ";".join([
        "[0:a]aformat=sample_fmts=flt,volume=-6dB,aresample=48000,atrim=start_sample=14400:end_sample=72000,asetpts=PTS-STARTPTS,"
        "afade=t=in:ss=0:ns=9600,afade=t=out:ss=38400:ns=19200:curve=qsin,pan=stereo|c0=c0|c1=c0,adelay=delays=24000S:all=1[a]",
        "[1:a]aformat=sample_fmts=flt,volume=-3dB,aresample=48000,afade=t=in:ss=0:ns=4800:curve=qsin,"
        "afade=t=out:ss=48000:ns=14400,adelay=delays=36000S:all=1[b]",
        "[a][b]amix=inputs=2:duration=longest:dropout_transition=0:normalize=0[mix]",
    ])
    ffmpeg("-i", clip, "-i", stereo, "-filter_complex", graph, "-map", "[mix]", "-c:a", "pcm_f32le",
           os.path.join(directory, "shaped-ref.wav"))
    first, second = os.path.join(directory, "a.wav"), os.path.join(directory, "b.wav")
    ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*440*t):s=48000:d=1.5", "-c:a", "pcm_s16le", first)
    ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.3*sin(2*PI*660*t)|0.3*sin(2*PI*550*t):s=44100:d=1", "-c:a", "pcm_s16le", second)
    graph = ";".join([
        "[0:a]aformat=sample_fmts=flt,pan=stereo|c0=c0|c1=c0,aformat=sample_fmts=flt:channel_layouts=stereo[a]",
        "[1:a]aformat=sample_fmts=flt,aresample=48000,aformat=sample_fmts=flt:channel_layouts=stereo[b]",
        "[a][b]acrossfade=ns=12000:c1=qsin:c2=qsin[mix]",
    ])
    ffmpeg("-i", first, "-i", second, "-filter_complex", graph, "-map", "[mix]", "-c:a", "pcm_f32le",
           os.path.join(directory, "crossfade-ref.wav"))


def read_float_wav(path):
    import numpy as np
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "f32le", "-ac", "2", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 2).astype(np.float64)


def compare(reference, test, as_json):
    import numpy as np
    ref, out = read_float_wav(reference), read_float_wav(test)
    n = min(len(ref), len(out))
    error = out[:n] - ref[:n]
    signal = float(np.sum(ref[:n] ** 2))
    noise = float(np.sum(error ** 2))
    result = {
        "frames_ref": len(ref), "frames_test": len(out),
        "snr_db": float("inf") if noise == 0 else 10 * np.log10(signal / noise),
        "max_abs_diff": float(np.max(np.abs(error))) if n else 0.0,
    }
    print(json.dumps(result) if as_json else result)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "generate" and len(sys.argv) == 3:
        generate(sys.argv[2])
    elif command == "render" and len(sys.argv) == 4:
        render(sys.argv[2], sys.argv[3])
    elif command == "shaping" and len(sys.argv) == 3:
        shaping(sys.argv[2])
    elif command == "compare" and len(sys.argv) in (4, 5):
        compare(sys.argv[2], sys.argv[3], "--json" in sys.argv[4:])
    else:
        sys.exit(__doc__)
