import ScaleKit
import Testing

/// Every URL form people paste resolves to the id; everything else is refused.
@Suite struct YouTubeURLTests {
    static let id = "dQw4w9WgXcQ"

    static let accepted: [String] = [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtube.com/watch?v=dQw4w9WgXcQ",
        "http://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://music.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
        "https://www.youtube.com/watch?feature=share&v=dQw4w9WgXcQ&list=PL123",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ#comments",
        "https://youtu.be/dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ?t=42",
        "https://youtu.be/dQw4w9WgXcQ?si=abcdef",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "https://youtube.com/shorts/dQw4w9WgXcQ?feature=share",
        "https://www.youtube.com/embed/dQw4w9WgXcQ",
        "https://www.youtube.com/embed/dQw4w9WgXcQ?autoplay=1",
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ",
        "https://www.youtube.com/v/dQw4w9WgXcQ",
        "  https://www.youtube.com/watch?v=dQw4w9WgXcQ  ",
        "dQw4w9WgXcQ",
    ]

    static let refused: [String] = [
        "",
        "   ",
        "not a url",
        "https://vimeo.com/123456789",
        "https://www.youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=short",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQextra",
        "https://www.youtube.com/watch?list=PL123",
        "https://www.youtube.com/",
        "https://www.youtube.com/channel/UC1234567890",
        "https://youtu.be/",
        "https://youtu.be/dQw4w9WgX!Q",
        "ftp://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "javascript:alert(1)",
        "https://user:pass@www.youtube.com/watch?v=dQw4w9WgXcQ",
    ]

    @Test(arguments: accepted)
    func acceptsEveryCommonForm(_ url: String) throws {
        #expect(try YouTubeVideoID(parsing: url).rawValue == Self.id)
    }

    @Test func keepsIDsWithDashesAndUnderscores() throws {
        #expect(try YouTubeVideoID(parsing: "https://youtu.be/a-B_c1D2e3F").rawValue == "a-B_c1D2e3F")
    }

    @Test func refusesAnOverlongURL() {
        let url = "https://www.youtube.com/watch?v=dQw4w9WgXcQ&pad=" + String(repeating: "a", count: 3000)
        #expect(throws: ScaleKitError.self) { try YouTubeVideoID(parsing: url) }
    }

    @Test(arguments: refused)
    func refusesEverythingElse(_ url: String) {
        #expect(throws: ScaleKitError.self) { try YouTubeVideoID(parsing: url) }
    }
}
