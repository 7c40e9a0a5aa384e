/// The PCM shape of a mix's output: sample rate and channel count.
///
/// Every input is resampled to ``sampleRate`` and mapped to ``channels``:
/// mono is copied to both channels at unity gain, stereo is averaged to mono.
public struct AudioFormat: Hashable, Sendable, CustomStringConvertible {
    /// Frames per second, for example 48 000.
    public var sampleRate: Int
    /// 1 (mono) or 2 (stereo).
    public var channels: Int

    /// A format; checked by the mixers (``ScaleKitError/Code/invalidArgument``
    /// for a rate outside 1 000…384 000 Hz or a channel count other than 1 or 2).
    public init(sampleRate: Int, channels: Int) {
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// 48 kHz stereo, the format the reference timelines ask for.
    public static let stereo48k = AudioFormat(sampleRate: 48_000, channels: 2)

    public var description: String { "\(sampleRate) Hz, \(channels == 1 ? "mono" : channels == 2 ? "stereo" : "\(channels) channels")" }

    /// Throws ``ScaleKitError/Code/invalidArgument`` unless the format is one the mixers support.
    package func validate() throws {
        guard (1_000...384_000).contains(sampleRate) else {
            throw ScaleKitError(.invalidArgument, "output sample rate \(sampleRate) Hz is outside 1000...384000")
        }
        guard channels == 1 || channels == 2 else {
            throw ScaleKitError(.invalidArgument, "output channel count \(channels) is not 1 or 2")
        }
    }

    /// The frame index nearest to `seconds` at this rate (how starts and gaps become sample positions).
    package func frameIndex(atSeconds seconds: Double) -> Int {
        Int((seconds * Double(sampleRate)).rounded())
    }
}
