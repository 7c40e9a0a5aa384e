import ScaleKit
import Testing

@Suite struct YouTubeVideoIDTests {
    @Test(arguments: [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtube.com/watch?v=dQw4w9WgXcQ",
        "http://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "www.youtube.com/watch?v=dQw4w9WgXcQ",
        "youtube.com/watch?v=dQw4w9WgXcQ",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RDAMVM",
        "https://www.youtube.com/watch?feature=share&v=dQw4w9WgXcQ&t=42s",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ#t=1m",
        "https://WWW.YouTube.com/watch?v=dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ?si=abc&t=10",
        "youtu.be/dQw4w9WgXcQ",
        "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        "https://youtube.com/shorts/dQw4w9WgXcQ?feature=share",
        "https://www.youtube.com/embed/dQw4w9WgXcQ?autoplay=1",
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ",
        "https://www.youtube.com:443/watch?v=dQw4w9WgXcQ",
        "  https://youtu.be/dQw4w9WgXcQ \n",
        "dQw4w9WgXcQ",
    ])
    func acceptsEveryCommonForm(url: String) throws {
        #expect(try YouTubeVideoID(parsing: url).rawValue == "dQw4w9WgXcQ")
    }

    @Test(arguments: [
        "", "   ", "not a url", "https://vimeo.com/123456789", "https://www.youtube.com/",
        "https://www.youtube.com/watch", "https://www.youtube.com/watch?v=", "https://www.youtube.com/watch?v=short",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQQ", "https://www.youtube.com/watch?v=dQw4w9WgX%3D",
        "https://www.youtube.com/watch?v=dQw4w9WgXc'", "https://youtu.be/", "https://youtu.be/dQw4w9WgXc;DROP",
        "javascript:alert(1)", "ftp://youtube.com/watch?v=dQw4w9WgXcQ", "https://evil.com/watch?v=dQw4w9WgXcQ",
        "https://youtube.com.evil.com/watch?v=dQw4w9WgXcQ", "https://user:pw@youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/channel/UCdQw4w9WgXcQ", "https://www.youtube.com/shorts/",
        "https://www.youtube.com:abc/watch?v=dQw4w9WgXcQ", "https://youtu.be/dQw4w9WgXcQ\r\nX-Injected: 1",
    ])
    func rejectsAnythingElse(url: String) {
        let error = #expect(throws: ScaleKitError.self) { try YouTubeVideoID(parsing: url) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("\r") == false)
    }

    @Test func longInputIsRefusedAndExcerpted() {
        let error = #expect(throws: ScaleKitError.self) { try YouTubeVideoID(parsing: "https://evil.com/" + String(repeating: "a", count: 5000)) }
        #expect(error?.message.count ?? 0 < 300)
    }
}
