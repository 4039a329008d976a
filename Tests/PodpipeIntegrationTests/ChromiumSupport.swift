import CZlib
import Foundation
import Testing

// Headless Chromium for the HTML report's tests (CtlHTMLReportTests): screenshots and the
// DOM after layout, through the one process runner (`Binaries.runProgram`), and a PNG
// decoder small enough to tell a blank screenshot from a page with charts.

enum Chromium {
    /// Debian's `chromium` (scripts/install-deps.sh test installs it), or nil.
    static let path: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Why the Chromium tests are skipped, shown by the test runner.
    static let missing: Comment =
        "SKIPPED: chromium is not installed (/usr/bin/chromium): install Debian's chromium (scripts/install-deps.sh test) to run the HTML report's browser tests"

    /// Runs headless Chromium on `page` with `arguments`, a fresh profile in `scratch`, and
    /// the time limit enforced twice: timeout(1) kills Chromium's whole process group (its
    /// renderer and GPU helpers too), the runner kills what is left.
    static func run(_ arguments: [String], page: URL, scratch: URL, window: (Int, Int)) throws
        -> ProcessResult
    {
        guard let path else { throw MissingChromium() }
        let profile = scratch.appendingPathComponent("chromium-profile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: profile) }
        var environment = ProcessInfo.processInfo.environment
        // Chromium writes caches and crash reports under HOME: keep them in the scratch folder.
        environment["HOME"] = scratch.path
        let flags = [
            // As root (CI containers) Chromium refuses to start without --no-sandbox.
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--hide-scrollbars", "--force-device-scale-factor=1", "--user-data-dir=\(profile.path)",
            "--window-size=\(window.0),\(window.1)",
        ]
        return try Binaries.runProgram(
            "/usr/bin/timeout", ["-k", "5", "90", path] + flags + arguments + [page.absoluteString],
            environment: environment, timeout: 120)
    }

    /// A screenshot of `page` at `window` (CSS pixels) as a decoded image.
    static func screenshot(_ page: URL, scratch: URL, window: (Int, Int)) throws -> PNGImage {
        let png = scratch.appendingPathComponent("shot-\(UUID().uuidString).png")
        let result = try run(["--screenshot=\(png.path)"], page: page, scratch: scratch, window: window)
        guard !result.timedOut, let data = FileManager.default.contents(atPath: png.path) else {
            throw ChromiumFailed(result: result)
        }
        return try PNGImage(data)
    }

    /// The DOM of `page` after its scripts ran and it was laid out, serialized.
    static func dumpDOM(_ page: URL, scratch: URL, window: (Int, Int)) throws -> String {
        let result = try run(["--dump-dom"], page: page, scratch: scratch, window: window)
        guard !result.timedOut, result.status == 0, result.stdout.contains("</html>") else {
            throw ChromiumFailed(result: result)
        }
        return result.stdout
    }

    struct MissingChromium: Error {}

    struct ChromiumFailed: Error, CustomStringConvertible {
        var result: ProcessResult
        var description: String {
            "chromium failed (exit \(result.status), timed out: \(result.timedOut)): \(result.stderr.suffix(2_000))"
        }
    }
}

/// An 8-bit, non-interlaced PNG (grey, grey + alpha, RGB or RGBA: what Chromium writes),
/// decoded to RGB pixels.
struct PNGImage {
    var width: Int
    var height: Int
    /// `width × height` pixels, row by row, 3 bytes each.
    var rgb: [UInt8]

    struct Unsupported: Error, CustomStringConvertible {
        var description: String
    }

    init(_ data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.count > 8, bytes[0..<8].elementsEqual([137, 80, 78, 71, 13, 10, 26, 10]) else {
            throw Unsupported(description: "not a PNG")
        }
        func word(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        var offset = 8
        var header: [UInt8] = []
        var compressed: [UInt8] = []
        while offset + 12 <= bytes.count {
            let length = word(offset)
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            guard offset + 12 + length <= bytes.count else {
                throw Unsupported(description: "truncated chunk")
            }
            let body = bytes[offset + 8..<offset + 8 + length]
            if type == "IHDR" { header = Array(body) }
            if type == "IDAT" { compressed += body }
            if type == "IEND" { break }
            offset += 12 + length
        }
        guard header.count == 13 else { throw Unsupported(description: "no IHDR") }
        width = header[0..<4].reduce(0) { $0 << 8 | Int($1) }
        height = header[4..<8].reduce(0) { $0 << 8 | Int($1) }
        let channelsByType: [UInt8: Int] = [0: 1, 4: 2, 2: 3, 6: 4]
        guard header[8] == 8, let channels = channelsByType[header[9]], header[12] == 0,
            width > 0, height > 0, width <= 20_000, height <= 40_000
        else { throw Unsupported(description: "PNG format \(header) not handled") }
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        var rawLength = uLongf(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { out in
            compressed.withUnsafeBufferPointer { input in
                uncompress(out.baseAddress, &rawLength, input.baseAddress, uLong(input.count))
            }
        }
        guard status == Z_OK, Int(rawLength) == raw.count else {
            throw Unsupported(description: "zlib status \(status), \(rawLength) of \(raw.count) bytes")
        }
        // Undo the per-row filters (PNG spec §9) into `pixels`.
        var pixels = [UInt8](repeating: 0, count: height * stride)
        for row in 0..<height {
            let filter = raw[row * (stride + 1)]
            let source = row * (stride + 1) + 1
            let target = row * stride
            for index in 0..<stride {
                let x = Int(raw[source + index])
                let left = index >= channels ? Int(pixels[target + index - channels]) : 0
                let up = row > 0 ? Int(pixels[target - stride + index]) : 0
                let upLeft =
                    row > 0 && index >= channels ? Int(pixels[target - stride + index - channels]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = left
                case 2: predicted = up
                case 3: predicted = (left + up) / 2
                case 4:
                    let p = left + up - upLeft
                    let (pa, pb, pc) = (abs(p - left), abs(p - up), abs(p - upLeft))
                    predicted = pa <= pb && pa <= pc ? left : (pb <= pc ? up : upLeft)
                default: throw Unsupported(description: "filter \(filter)")
                }
                pixels[target + index] = UInt8((x + predicted) & 0xFF)
            }
        }
        rgb = []
        rgb.reserveCapacity(width * height * 3)
        for pixel in 0..<(width * height) {
            let base = pixel * channels
            if channels < 3 {
                rgb += [pixels[base], pixels[base], pixels[base]]
            } else {
                rgb += [pixels[base], pixels[base + 1], pixels[base + 2]]
            }
        }
    }

    /// How many pixels are within `tolerance` (per channel) of `color`.
    func count(near color: (UInt8, UInt8, UInt8), tolerance: Int = 6) -> Int {
        var count = 0
        var index = 0
        while index < rgb.count {
            if abs(Int(rgb[index]) - Int(color.0)) <= tolerance
                && abs(Int(rgb[index + 1]) - Int(color.1)) <= tolerance
                && abs(Int(rgb[index + 2]) - Int(color.2)) <= tolerance
            {
                count += 1
            }
            index += 3
        }
        return count
    }

    /// The share of pixels that differ from the most common colour (the background), and
    /// the number of distinct colours.
    var content: (share: Double, colors: Int) {
        var histogram: [UInt32: Int] = [:]
        var index = 0
        while index < rgb.count {
            let key = UInt32(rgb[index]) << 16 | UInt32(rgb[index + 1]) << 8 | UInt32(rgb[index + 2])
            histogram[key, default: 0] += 1
            index += 3
        }
        let background = histogram.values.max() ?? 0
        let total = width * height
        return (total > 0 ? Double(total - background) / Double(total) : 0, histogram.count)
    }

    /// A blank page: almost every pixel is the background colour, or hardly any colours.
    /// A page of text and charts has a few per cent of its pixels off the background and
    /// dozens of colours (anti-aliased text).
    var looksBlank: Bool {
        let (share, colors) = content
        return share < 0.01 || colors < 8
    }
}
