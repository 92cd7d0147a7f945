// Tests for FacecImage: JPEG, PNG and WebP decoding (against cv2.imread), EXIF orientation,
// refusals with clear messages, and preprocessing (against cv2.resize).
//
// Fixtures: Tests/FacecTests/Fixtures/images/, written by Pillow and OpenCV via
// scripts/fixtures/make_images.py (see its docstring to regenerate them).
// The deepface photo set (../shared/faces relative to the repository) is used
// when present and skipped otherwise.

import Foundation
import FacecCore
import Testing
@testable import FacecImage

private enum ImageFixtures {
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let dir = testsDir.appendingPathComponent("Fixtures/images")
    /// The shared photo set sits beside the repository: <repo>/../shared/faces.
    static let faces = testsDir.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/faces")
    static var facesAvailable: Bool {
        FileManager.default.fileExists(atPath: faces.appendingPathComponent("img1.jpg").path)
    }

    static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    static func data(_ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }

    struct Expected: Decodable { let width: Int; let height: Int; let rgb: String? }
    static func expected() throws -> [String: Expected] {
        try JSONDecoder().decode([String: Expected].self, from: data("expected.json"))
    }

    /// The error decoding a fixture throws, or nil if it decodes.
    static func error(_ name: String, maxPixels: Int = ImageDecoder.defaultMaxPixels) -> FacecError? {
        do {
            _ = try ImageDecoder.decodeFile(path(name), maxPixels: maxPixels)
            return nil
        } catch {
            return error
        }
    }

    static func pixel(_ img: DecodedImage, _ x: Int, _ y: Int) -> (Int, Int, Int) {
        let i = (y * img.width + x) * 3
        return (Int(img.pixels[i]), Int(img.pixels[i + 1]), Int(img.pixels[i + 2]))
    }

    /// Reads a little-endian float32 C-order .npy file (format version 1 or 2).
    static func npy(_ url: URL) throws -> (shape: [Int], values: [Float]) {
        let d = try Data(contentsOf: url)
        let b = [UInt8](d)
        guard b.count > 12, b[0] == 0x93, String(decoding: b[1..<6], as: UTF8.self) == "NUMPY" else {
            throw FacecError(.image, url.path, "not an .npy file")
        }
        let headerLen: Int, start: Int
        if b[6] == 1 { headerLen = Int(b[8]) | Int(b[9]) << 8; start = 10 }
        else { headerLen = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; start = 12 }
        let header = String(decoding: b[start..<(start + headerLen)], as: UTF8.self)
        guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False"),
              let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")")
        else { throw FacecError(.image, url.path, "unexpected .npy header \(header)") }
        let shape = header[open.upperBound..<close].split(separator: ",")
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let values = b[(start + headerLen)...].withUnsafeBytes { raw in
            (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
        return (shape, values)
    }

    /// Position-weighted checksums recomputed by make_images.py from cv2.imread.
    static func checksums(_ pixels: [UInt8]) -> (UInt64, UInt64) {
        pixels.withUnsafeBufferPointer { p in
            var s1: UInt64 = 0, s2: UInt64 = 0
            var w: UInt64 = 1
            for v in p {
                s1 &+= UInt64(v)
                s2 &+= UInt64(v) &* w
                w = w == 251 ? 1 : w + 1
            }
            return (s1, s2)
        }
    }

    /// The synthetic image make_images.py also builds: (x*37 + y*91 + c*53 + (x*y % 17)*5) % 256.
    static func pattern(width: Int, height: Int) -> DecodedImage {
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    px[(y * width + x) * 3 + c] = UInt8((x * 37 + y * 91 + c * 53 + (x * y % 17) * 5) % 256)
                }
            }
        }
        return DecodedImage(width: width, height: height, pixels: px)
    }
}

@Suite("FacecImage decoding")
struct ImageDecodingTests {
    fileprivate typealias F = ImageFixtures

    @Test("decoded pixels equal cv2.imread's", arguments: [
        "baseline.jpg", "baseline444.jpg", "progressive.jpg", "gray.jpg", "cmyk.jpg",
        "orient1.jpg", "orient2.jpg", "orient3.jpg", "orient4.jpg",
        "orient5.jpg", "orient6.jpg", "orient7.jpg", "orient8.jpg", "orient6_mm.jpg",
        "png_named.jpg", "rgb.png", "rgba.png", "gray.png", "gray_alpha.png", "gray1.png", "palette.png",
        "palette_trns.png", "rgb16.png", "gray16.png", "interlaced.png", "orient6.png",
        "webp_named.jpg", "lossy.webp", "lossless.webp", "alpha_lossy.webp", "alpha_lossless.webp",
        "orient6.webp", "animated.webp",
    ])
    func matchesOpenCV(_ name: String) throws {
        let expected = try #require(try F.expected()[name])
        let img = try ImageDecoder.decodeFile(F.path(name))
        #expect(img.width == expected.width)
        #expect(img.height == expected.height)
        let reference = try [UInt8](F.data(try #require(expected.rgb)))
        #expect(img.pixels.count == reference.count)
        let maxDiff = zip(img.pixels, reference).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(maxDiff == 0, "\(name): max |facec - cv2| = \(maxDiff)")
    }

    @Test func grayscaleHasThreeEqualChannels() throws {
        let img = try ImageDecoder.decodeFile(F.path("gray.jpg"))
        #expect(img.width == 37 && img.height == 29)
        for p in 0..<(img.width * img.height) {
            let r = img.pixels[3 * p], g = img.pixels[3 * p + 1], b = img.pixels[3 * p + 2]
            #expect(r == g && g == b)
            if r != g || g != b { break }
        }
    }

    @Test func cmykIsConvertedToRGB() throws {
        // Pillow's CMYK conversion of the same picture: colours must be close
        // to the RGB baseline (exact equality with cv2 is checked above).
        let cmyk = try ImageDecoder.decodeFile(F.path("cmyk.jpg"))
        let rgb = try ImageDecoder.decodeFile(F.path("baseline444.jpg"))
        let meanAbs = Double(zip(cmyk.pixels, rgb.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +)) / Double(rgb.pixels.count)
        #expect(meanAbs < 12, "mean |cmyk - rgb| = \(meanAbs)")
    }

    @Test("EXIF orientation makes the image upright",
          arguments: ["orient1.jpg", "orient2.jpg", "orient3.jpg", "orient4.jpg",
                      "orient5.jpg", "orient6.jpg", "orient7.jpg", "orient8.jpg", "orient6_mm.jpg"])
    func orientation(_ name: String) throws {
        let img = try ImageDecoder.decodeFile(F.path(name))
        #expect(img.width == 24 && img.height == 16, "\(name): \(img.width)x\(img.height)")
        // Quadrant centres: red, green / blue, white.
        func near(_ p: (Int, Int, Int), _ q: (Int, Int, Int)) -> Bool {
            abs(p.0 - q.0) < 40 && abs(p.1 - q.1) < 40 && abs(p.2 - q.2) < 40
        }
        #expect(near(F.pixel(img, 6, 4), (255, 0, 0)), "\(name) top-left \(F.pixel(img, 6, 4))")
        #expect(near(F.pixel(img, 18, 4), (0, 255, 0)), "\(name) top-right \(F.pixel(img, 18, 4))")
        #expect(near(F.pixel(img, 6, 12), (0, 0, 255)), "\(name) bottom-left \(F.pixel(img, 6, 12))")
        #expect(near(F.pixel(img, 18, 12), (255, 255, 255)), "\(name) bottom-right \(F.pixel(img, 18, 12))")
    }

    @Test("malformed EXIF is ignored", arguments: ["exif_bad_offset.jpg", "exif_bad_value.jpg"])
    func malformedExif(_ name: String) throws {
        let img = try ImageDecoder.decodeFile(F.path(name))
        #expect(img.width == 16 && img.height == 24)   // as stored, not rotated
    }

    @Test("other formats are named", arguments: [
        ("gif_named.jpg", "GIF"),
        ("empty.jpg", "empty file"), ("garbage.jpg", "unknown image format (first bytes: 47 61 72 62"),
    ])
    func refusesNonJPEG(_ name: String, _ word: String) throws {
        let error = try #require(F.error(name))
        #expect(error.path == F.path(name))
        #expect(error.description.hasPrefix(F.path(name) + ": "))
        #expect(error.description.contains(word), "\(error)")
        #expect(!error.description.contains("\n"))
    }

    @Test("truncated JPEGs are refused, not half grey",
          arguments: ["truncated.jpg", "truncated_progressive.jpg", "no_eoi.jpg"])
    func refusesTruncated(_ name: String) throws {
        let error = try #require(F.error(name))
        #expect(error.reason.contains("truncated"), "\(error)")
        #expect(error.reason.contains("Premature end"), "\(error)")   // libjpeg's own words
    }

    @Test("damaged PNG and WebP files are refused", arguments: [
        ("truncated.png", "PNG: "), ("bad_crc.png", "PNG: "), ("truncated.webp", "WebP: "),
    ])
    func refusesDamagedPNGAndWebP(_ name: String, _ prefix: String) throws {
        let error = try #require(F.error(name))
        #expect(error.description.hasPrefix(F.path(name) + ": " + prefix), "\(error)")
        #expect(!error.description.contains("\n"))
    }

    @Test("PNG and WebP headers claiming huge images are refused before allocation",
          arguments: [("huge_dims.png", "60000x60000"), ("huge_dims.webp", "16383x16383")])
    func hugePNGAndWebPAreRefused(_ name: String, _ dims: String) throws {
        let error = try #require(F.error(name))
        #expect(error.reason.contains(dims) && error.reason.contains("100000000"), "\(error)")
    }

    @Test("every prefix of a photo file is refused", arguments: [
        "baseline.jpg", "progressive.jpg", "orient6.jpg",
        "rgb.png", "interlaced.png", "orient6.png", "lossy.webp", "lossless.webp", "animated.webp",
    ])
    func everyPrefixIsRefused(_ name: String) throws {
        // Cutting a file anywhere must give an error, never a crash or a
        // partly decoded image.
        let bytes = [UInt8](try F.data(name))
        var accepted: [Int] = []
        for n in 0..<bytes.count {
            let ok = bytes[0..<n].withUnsafeBytes { (try? ImageDecoder.decode($0, name: name)) != nil }
            if ok { accepted.append(n) }
        }
        #expect(accepted.isEmpty, "\(name): prefixes accepted: \(accepted.prefix(10))")
    }

    /// baseline.jpg with junk bytes inserted before its second marker segment.
    static func withJunkBeforeSecondSegment() throws -> [UInt8] {
        var bytes = [UInt8](try F.data("baseline.jpg"))
        let app0Length = Int(bytes[4]) << 8 | Int(bytes[5])
        bytes.insert(contentsOf: [0x00, 0x11, 0x22], at: 4 + app0Length)
        return bytes
    }

    @Test func extraneousBytesAreHarmless() throws {
        // libjpeg warns "Corrupt JPEG data: 3 extraneous bytes before marker"
        // and decodes every pixel; OpenCV accepts such files, so do we.
        let junk = try Self.withJunkBeforeSecondSegment()
        let img = try junk.withUnsafeBytes { try ImageDecoder.decode($0, name: "junk.jpg") }
        let baseline = try ImageDecoder.decodeFile(F.path("baseline.jpg"))  // outside #expect: Swift 6.0's expansion cannot `try`
        #expect(img == baseline)
    }

    @Test func extraneousBytesDoNotHideTruncation() throws {
        // TurboJPEG reports only the first warning (the harmless one); the
        // EOI check still sees the cut.
        let junk = try Self.withJunkBeforeSecondSegment()
        let cut = Array(junk.prefix(junk.count * 7 / 10))
        let error = cut.withUnsafeBytes { buf -> FacecError? in
            do { _ = try ImageDecoder.decode(buf, name: "cut.jpg"); return nil } catch { return error as? FacecError }
        }
        #expect(try #require(error).reason.contains("truncated"))
    }

    @Test func corruptDataReportsLibjpegMessage() throws {
        let error = try #require(F.error("corrupt_after_soi.jpg"))
        #expect(error.reason.hasPrefix("corrupt JPEG header: "), "\(error)")
        #expect(error.description.hasPrefix(F.path("corrupt_after_soi.jpg") + ": "))
    }

    @Test func hugeHeaderIsRefusedBeforeAllocation() throws {
        let error = try #require(F.error("huge_dims.jpg"))
        #expect(error.reason.contains("60000x60000"), "\(error)")
        #expect(error.reason.contains("100000000"), "\(error)")
    }

    @Test func pixelLimitIsConfigurable() throws {
        let error = try #require(F.error("baseline.jpg", maxPixels: 1000))
        #expect(error.reason == "image is 37x29 = 1073 pixels, more than the limit of 1000 pixels")
        #expect(F.error("baseline.jpg", maxPixels: 1073) == nil)
    }

    @Test func zeroSizeHeaderIsRefused() throws {
        // SOF with height 0 (a "DNL" JPEG, which libjpeg does not support) or width 0.
        var bytes = [UInt8](try F.data("baseline.jpg"))
        let sof = try #require((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        bytes[sof + 5] = 0; bytes[sof + 6] = 0
        let error = bytes.withUnsafeBytes { buf -> FacecError? in
            do { _ = try ImageDecoder.decode(buf, name: "zero.jpg"); return nil } catch { return error as? FacecError }
        }
        let e = try #require(error)
        #expect(e.description.hasPrefix("zero.jpg: "), "\(e)")
    }

    @Test func missingFileAndDirectory() throws {
        let missing = try #require(F.error("does-not-exist.jpg"))
        #expect(missing.reason == "no such file")
        do {
            _ = try ImageDecoder.decodeFile(F.dir.path)
            Issue.record("a directory decoded")
        } catch {
            #expect(error.reason.contains("directory"), "\(error)")
        }
    }

    @Test(arguments: ["orient6.jpg", "orient6.png", "rgba.png", "interlaced.png", "lossy.webp", "alpha_lossless.webp", "animated.webp"])
    func randomMutationsNeverCrash(_ name: String) throws {
        // Hostile input: flip bytes all over a file (with EXIF, alpha, animation);
        // every outcome is fine except a crash or an image with bad dimensions.
        let original = [UInt8](try F.data(name))
        var rng = ImageTestRNG(seed: 42)
        for round in 0..<400 {
            var bytes = original
            for _ in 0..<(1 + round % 8) {
                let i = Int(rng.next() % UInt64(bytes.count))
                bytes[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            bytes.withUnsafeBytes { buf in
                if let img = try? ImageDecoder.decode(buf, name: "mutated.jpg") {
                    #expect(img.pixels.count == img.width * img.height * 3)
                }
            }
        }
    }

    @Test func errorDescriptionStaysOnOneLine() {
        let e = FacecError(.image, "a\nb.jpg", "bad\tthing\u{1}")
        #expect(oneLine(e.description) == "a b.jpg: bad\\u{9}thing\\u{1}")
    }
}

@Suite("FacecImage format sniffing and EXIF parsing")
struct ImageSniffAndEXIFTests {
    static func sniff(_ bytes: [UInt8]) -> ImageFormat {
        bytes.withUnsafeBytes { ImageFormatSniffer.sniff($0) }
    }
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func namesFormats() {
        #expect(Self.sniff([0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(Self.sniff([]) == .empty)
        #expect(Self.sniff([0, 0, 0, 0x18] + Self.bytes("ftypheic") + [0, 0, 0, 0]).refusal!.contains("HEIC"))
        #expect(Self.sniff([0, 0, 0, 0x1C] + Self.bytes("ftypavif") + [0, 0, 0, 0]).refusal!.contains("AVIF"))
        #expect(Self.sniff([0, 0, 0, 0x1C] + Self.bytes("ftypisom")).refusal!.contains("ISO media"))
        #expect(Self.sniff(Self.bytes("%PDF-1.7\n")).refusal!.contains("PDF"))
        #expect(Self.sniff(Self.bytes("BM") + [UInt8](repeating: 0, count: 40)).refusal!.contains("BMP"))
        #expect(Self.sniff([0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0]).refusal!.contains("TIFF"))
        #expect(Self.sniff([0x4D, 0x4D, 0x00, 0x2A, 0, 0, 0, 8]).refusal!.contains("TIFF"))
        #expect(Self.sniff(Self.bytes("RIFF") + [0, 0, 0, 0] + Self.bytes("WEBPVP8 ")) == .webp)
        #expect(Self.sniff(Self.bytes("RIFF") + [0, 0, 0, 0] + Self.bytes("AVI LIST")).refusal!.contains("RIFF"))
        #expect(Self.sniff([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]) == .png)
        #expect(Self.sniff([1, 2, 3]).refusal == "unknown image format (first bytes: 01 02 03; facec reads JPEG, PNG and WebP)")
    }

    /// A JPEG prefix (SOI + APP1) holding `tiff` after "Exif\0\0".
    static func app1(_ tiff: [UInt8], declaredLength: Int? = nil) -> [UInt8] {
        let payload = Self.bytes("Exif") + [0, 0] + tiff
        let len = declaredLength ?? payload.count + 2
        return [0xFF, 0xD8, 0xFF, 0xE1, UInt8(len >> 8), UInt8(len & 0xFF)] + payload + [0xFF, 0xDA, 0, 2]
    }
    static func ifd(littleEndian: Bool, type: UInt16 = 3, value: UInt32, count: UInt16 = 1) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { littleEndian ? [UInt8(v & 0xFF), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 0xFF)] }
        func u32(_ v: UInt32) -> [UInt8] {
            let le = [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
            return littleEndian ? le : le.reversed()
        }
        let header: [UInt8] = littleEndian ? [0x49, 0x49, 0x2A, 0x00] : [0x4D, 0x4D, 0x00, 0x2A]
        let valueField = type == 3 ? u16(UInt16(value)) + [0, 0] : u32(value)
        // A dummy tag first, so the parser has to walk the IFD.
        return header + u32(8) + u16(count + 1) + u16(0x010F) + u16(2) + u32(4) + u32(0)
            + u16(0x0112) + u16(type) + u32(1) + valueField + u32(0)
    }
    static func orientation(_ b: [UInt8]) -> Int { b.withUnsafeBytes { EXIFOrientation.read(from: $0) } }

    @Test func readsOrientation() {
        for v in 1...8 {
            #expect(Self.orientation(Self.app1(Self.ifd(littleEndian: true, value: UInt32(v)))) == v)
            #expect(Self.orientation(Self.app1(Self.ifd(littleEndian: false, value: UInt32(v)))) == v)
        }
        #expect(Self.orientation(Self.app1(Self.ifd(littleEndian: false, type: 4, value: 6))) == 6)
    }

    @Test func malformedOrientationIsOne() {
        let good = Self.ifd(littleEndian: true, value: 6)
        #expect(Self.orientation(Self.app1(Self.ifd(littleEndian: true, value: 0))) == 1)
        #expect(Self.orientation(Self.app1(Self.ifd(littleEndian: true, value: 9))) == 1)
        #expect(Self.orientation(Self.app1(Self.ifd(littleEndian: true, type: 2, value: 6))) == 1)
        // IFD claims more entries than the segment holds, orientation beyond the end.
        #expect(Self.orientation(Self.app1(Array(good.prefix(20)))) == 1)
        // Bad byte order mark, bad magic.
        #expect(Self.orientation(Self.app1([0x49, 0x4D] + good.dropFirst(2))) == 1)
        #expect(Self.orientation(Self.app1([0x49, 0x49, 0x2B, 0x00] + good.dropFirst(4))) == 1)
        // Segment length pointing past the end of the file.
        #expect(Self.orientation(Self.app1(good, declaredLength: 60000)) == 1)
        #expect(Self.orientation(Self.app1(good, declaredLength: 1)) == 1)
        // Every truncation of a good segment: no crash, and 1 or the right value.
        let full = Self.app1(good)
        for n in 0...full.count {
            let o = Self.orientation(Array(full.prefix(n)))
            #expect(o == 1 || o == 6)
        }
    }

    @Test func transformsMapCorners() {
        // 3x2 image whose pixel value encodes its stored position.
        var px: [UInt8] = []
        for y in 0..<2 { for x in 0..<3 { px += [UInt8(10 * y + x), 0, 0] } }
        let img = DecodedImage(width: 3, height: 2, pixels: px)
        func grid(_ o: Int) -> [[UInt8]] {
            let r = EXIFOrientation.apply(o, to: img)
            return (0..<r.height).map { y in (0..<r.width).map { x in r.pixels[(y * r.width + x) * 3] } }
        }
        #expect(grid(1) == [[0, 1, 2], [10, 11, 12]])
        #expect(grid(2) == [[2, 1, 0], [12, 11, 10]])
        #expect(grid(3) == [[12, 11, 10], [2, 1, 0]])
        #expect(grid(4) == [[10, 11, 12], [0, 1, 2]])
        #expect(grid(5) == [[0, 10], [1, 11], [2, 12]])
        #expect(grid(6) == [[10, 0], [11, 1], [12, 2]])   // rotate 90° clockwise
        #expect(grid(7) == [[12, 2], [11, 1], [10, 0]])
        #expect(grid(8) == [[2, 12], [1, 11], [0, 10]])   // rotate 90° counter-clockwise
    }
}

@Suite("FacecImage preprocessing")
struct ImagePreprocessTests {
    fileprivate typealias F = ImageFixtures

    struct Case: Decodable {
        let source: String
        let srcWidth: Int?, srcHeight: Int?
        let height: Int, width: Int
        let order: String, scale: Double, mean: [Float], resize: String, arithmetic: String
        let offset: Int, count: Int
    }
    struct Cases: Decodable { let data: String; let cases: [Case] }

    @Test func matchesOpenCVResizeAndPad() throws {
        let file = try JSONDecoder().decode(Cases.self, from: F.data("preprocess.json"))
        let blob = try F.data(file.data)
        let all: [Float] = blob.withUnsafeBytes { raw in
            (0..<(blob.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
        let baseline = try ImageDecoder.decodeFile(F.path("baseline.jpg"))
        #expect(file.cases.count >= 20)
        for c in file.cases {
            let image = c.source == "pattern" ? F.pattern(width: c.srcWidth!, height: c.srcHeight!) : baseline
            let spec = PreprocessSpec(height: c.height, width: c.width, colorOrder: c.order == "bgr" ? .bgr : .rgb,
                                      scale: Float(c.scale), mean: c.mean,
                                      resize: c.resize == "stretch" ? .stretch : .keepAspectPad,
                                      arithmetic: c.arithmetic == "float64" ? .float64 : .float32Weights)
            let got = Preprocessor.tensor(from: image, spec: spec)
            let want = Array(all[c.offset..<(c.offset + c.count)])
            #expect(got.count == want.count)
            let maxDiff = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            // Values up to 255 (the VGGFace-mean case) have a float32 ulp of 1.5e-5.
            let tolerance: Float = c.scale == 1 ? 3e-5 : 1e-5
            #expect(maxDiff <= tolerance, "\(c.source) \(image.width)x\(image.height) -> \(c.height)x\(c.width) \(c.resize) \(c.order) \(c.arithmetic): max diff \(maxDiff)")
        }
    }

    @Test func deepfaceGeometry() {
        // 1382x1868 photo into VGG-Face 224x224: factor 224/1868, width int(1382*f) = 165.
        let g = Preprocessor.Geometry(spec: PreprocessSpec(height: 224, width: 224, colorOrder: .bgr),
                                      srcWidth: 1382, srcHeight: 1868)
        #expect(g.width == 165 && g.height == 224 && g.left == 29 && g.top == 0, "\(g)")
        // A 1-pixel-high strip still gets one row (deepface's cv2.resize would fail on 0).
        let thin = Preprocessor.Geometry(spec: PreprocessSpec(height: 55, width: 47, colorOrder: .bgr),
                                         srcWidth: 5000, srcHeight: 1)
        #expect(thin.height == 1 && thin.width == 47 && thin.top == 27)
    }

    @Test func writesIntoABatchSlot() {
        let img = F.pattern(width: 9, height: 7)
        let spec = PreprocessSpec(height: 5, width: 4, colorOrder: .rgb, mean: [0.5, 0.25, 0.125])
        let single = Preprocessor.tensor(from: img, spec: spec)
        var batch = [Float](repeating: .nan, count: spec.elementCount * 2)
        batch.withUnsafeMutableBufferPointer { buf in
            Preprocessor.tensor(from: img, spec: spec,
                                into: UnsafeMutableBufferPointer(rebasing: buf[spec.elementCount...]))
        }
        #expect(Array(batch[spec.elementCount...]) == single)
        #expect(batch[0].isNaN)
        // Padding (left column here) is 0 - mean.
        #expect(Array(single[0..<3]) == [-0.5, -0.25, -0.125])
    }

    @Test("real photo img1.jpg equals deepface's tensors",
          .enabled(if: ImageFixtures.facesAvailable, "../shared/faces not present: skipping real-photo checks"))
    func realPhoto() throws {
        let img = try ImageDecoder.decodeFile(F.faces.appendingPathComponent("img1.jpg").path)
        let deepid = try F.npy(F.dir.appendingPathComponent("img1_deepid_55x47_bgr.npy"))
        #expect(deepid.shape == [55, 47, 3])
        let t1 = Preprocessor.tensor(from: img, spec: PreprocessSpec(height: 55, width: 47, colorOrder: .bgr))
        let d1 = zip(t1, deepid.values).map { abs($0 - $1) }.max() ?? 1
        #expect(d1 <= 1e-5, "DeepID tensor max diff \(d1)")

        let vgg = try F.npy(F.dir.appendingPathComponent("img1_vgg_224_bgr_every8.npy"))
        #expect(vgg.shape == [28, 28, 3])
        let t2 = Preprocessor.tensor(from: img, spec: PreprocessSpec(height: 224, width: 224, colorOrder: .bgr))
        var d2: Float = 0
        for y in 0..<28 { for x in 0..<28 { for c in 0..<3 {
            d2 = max(d2, abs(t2[((8 * y) * 224 + 8 * x) * 3 + c] - vgg.values[(y * 28 + x) * 3 + c]))
        } } }
        #expect(d2 <= 1e-5, "VGG-Face tensor max diff \(d2)")
    }

    @Test("the deepface photo set decodes exactly like cv2.imread",
          .enabled(if: ImageFixtures.facesAvailable, "../shared/faces not present: skipping real-photo checks"))
    func realPhotoSet() throws {
        struct Entry: Decodable { let width: Int?; let height: Int?; let sum: UInt64?; let weightedSum: UInt64? }
        let entries = try JSONDecoder().decode([String: Entry].self, from: F.data("faces_cv2.json"))
        #expect(entries.count > 10)
        for (name, e) in entries.sorted(by: { $0.key < $1.key }) {
            let path = F.faces.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let img = try ImageDecoder.decodeFile(path)
            #expect(img.width == e.width && img.height == e.height, "\(name)")
            let (s1, s2) = F.checksums(img.pixels)
            #expect(s1 == e.sum && s2 == e.weightedSum, "\(name): pixel checksums differ from cv2.imread")
        }
    }
}

/// Small deterministic generator (SplitMix64) for the mutation test.
private struct ImageTestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
