public import Foundation

extension AudioTimeline {
    /// Reads a timeline file in the reference format:
    /// `{"sample_rate_out": 48000, "channels_out": 2,
    ///   "background": {"file": "bg.wav", "gain_db": 0, "duck_db": 12, "duck_ramp": 0.1},
    ///   "clips": [{"file": "clips/a.wav", "start": 0.5, "gain_db": -6}]}`.
    ///
    /// A clip may also say which part of its source plays and how it fades:
    /// `"trim_start": 1.5` (seconds skipped in the source), `"trim_duration": 2`
    /// (seconds played), `"fade_in": 0.05`, `"fade_out": 0.3` (seconds), and
    /// `"fade_in_curve"` / `"fade_out_curve"`: `"linear"` (the default) or
    /// `"equal_power"`. A file without them reads as before.
    ///
    /// Relative paths are resolved against the timeline file's folder; other
    /// keys (`duration`, `text`, `semantics`) are ignored. Blocking file read.
    /// - Throws: ``ScaleKitError/Code/invalidTimeline`` naming the file for
    ///   an unreadable file or malformed JSON.
    public static func load(contentsOf path: String) throws -> AudioTimeline {
        let url = URL(fileURLWithPath: path)
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ScaleKitError(.invalidTimeline, "cannot read timeline \(path): \(error.localizedDescription)")
        }
        return try decode(json: data, relativeTo: url.deletingLastPathComponent().path, name: path)
    }

    /// Decodes the reference JSON format; relative paths are resolved against `baseDirectory`.
    /// - Throws: ``ScaleKitError/Code/invalidTimeline`` for malformed JSON.
    public static func decode(json: Data, relativeTo baseDirectory: String, name: String = "timeline") throws -> AudioTimeline {
        let document: TimelineDocument
        do {
            document = try JSONDecoder().decode(TimelineDocument.self, from: json)
        } catch {
            let why = JSONNumberScan.describeOutOfRangeNumber(in: json) ?? describe(error)
            throw ScaleKitError(.invalidTimeline, "timeline \(name) is not valid: \(why)")
        }
        func resolve(_ file: String) -> AudioSource {
            if file.hasPrefix("/") { return .file(file) }
            return .file(URL(fileURLWithPath: baseDirectory).appendingPathComponent(file).standardizedFileURL.path)
        }
        let clips = try document.clips.enumerated().map { index, clip in
            func fade(_ seconds: Double?, _ curveName: String?, _ field: String) throws -> Fade? {
                guard let seconds else { return nil }
                guard let curve = FadeCurve(name: curveName ?? "linear") else {
                    throw ScaleKitError(
                        .invalidTimeline,
                        "timeline \(name) is not valid: clips[\(index)].\(field)_curve is \"\(curveName ?? "")\"; it must be \"linear\" or \"equal_power\"")
                }
                return Fade(seconds: seconds, curve: curve)
            }
            let trim = clip.trim_start == nil && clip.trim_duration == nil ? nil : Trim(offset: clip.trim_start ?? 0, duration: clip.trim_duration)
            return TimelineClip(
                source: resolve(clip.file), start: clip.start, gainDB: clip.gain_db ?? 0, trim: trim,
                fadeIn: try fade(clip.fade_in, clip.fade_in_curve, "fade_in"), fadeOut: try fade(clip.fade_out, clip.fade_out_curve, "fade_out"))
        }
        let background = document.background.map { bg in
            BackgroundTrack(
                source: resolve(bg.file), gainDB: bg.gain_db ?? 0,
                ducking: bg.duck_db.map { Ducking(depthDB: $0, rampSeconds: bg.duck_ramp ?? 0.1) })
        }
        let format: AudioFormat?
        if let rate = document.sample_rate_out {
            format = AudioFormat(
                sampleRate: try wholeNumber(rate, "sample_rate_out", in: 1_000...384_000, name: name),
                channels: try wholeNumber(document.channels_out ?? 2, "channels_out", in: 1...2, name: name))
        } else {
            format = nil
        }
        return AudioTimeline(clips: clips, background: background, preferredFormat: format)
    }

    /// `value` as an `Int` when it is a whole number within `range`; otherwise
    /// ``ScaleKitError/Code/invalidTimeline`` naming the field (`48000.5` is not a sample rate).
    private static func wholeNumber(_ value: Double, _ field: String, in range: ClosedRange<Int>, name: String) throws(ScaleKitError) -> Int {
        guard let whole = Int(exactly: value), range.contains(whole) else {
            throw ScaleKitError(
                .invalidTimeline,
                "timeline \(name) is not valid: \(field) is \(value); it must be a whole number within \(range.lowerBound)…\(range.upperBound)")
        }
        return whole
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "missing key \"\(key.stringValue)\" at \(path(context))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at \(path(context)): \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty:
            "\(context.debugDescription) at \(path(context))"
        case DecodingError.dataCorrupted(let context):
            context.debugDescription
        default:
            "\(error)"
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return path.isEmpty ? "top level" : path
    }
}

/// The on-disk shape of a timeline file (snake_case keys as written by the reference tools).
private struct TimelineDocument: Decodable {
    struct Clip: Decodable {
        var file: String
        var start: Double
        var gain_db: Double?
        var trim_start: Double?
        var trim_duration: Double?
        var fade_in: Double?
        var fade_out: Double?
        var fade_in_curve: String?
        var fade_out_curve: String?
    }

    struct Background: Decodable {
        var file: String
        var gain_db: Double?
        var duck_db: Double?
        var duck_ramp: Double?
    }

    // Read as numbers and checked by `wholeNumber`, so 48000.5 is refused with the field's name.
    var sample_rate_out: Double?
    var channels_out: Double?
    var background: Background?
    var clips: [Clip]
}
