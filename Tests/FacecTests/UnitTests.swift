@testable import FacecDigest
import Foundation
import FacecCore
import Testing
import FacecFormat
import FacecImporters
import FacecPipeline

@Suite struct UnitTests {
    /// Both implementations (SHA extensions and the portable loop) on the
    /// FIPS vectors, on every length around the block and padding edges,
    /// and on a fixture file against coreutils' sha256sum.
    @Test func sha256MatchesVectorsAndSha256sum() throws {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        func digest(_ bytes: [UInt8], pieces: Int = 1) -> String {
            var h = SHA256()
            let step = max(1, bytes.count / pieces)
            var i = 0
            while i < bytes.count {
                let j = min(bytes.count, i + step)
                bytes[i..<j].withUnsafeBytes { h.update($0) }
                i = j
            }
            return hex(h.finish())
        }
        let modes = SHA256.usesExtensions ? [false, true] : [true]
        defer { SHA256.usePortable(false) }
        var rng = SystemRandomNumberGenerator()
        let data = (0..<300).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var byMode: [[String]] = []
        for portable in modes {
            SHA256.usePortable(portable)
            #expect(digest([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            #expect(digest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            #expect(digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                    == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
            #expect(digest([UInt8](repeating: 0x61, count: 1_000_000), pieces: 7)
                    == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
            byMode.append((0...300).map { digest(Array(data[0..<$0]), pieces: 1 + $0 % 3) })
        }
        if byMode.count == 2 { #expect(zip(byMode[0], byMode[1]).filter { $0 != $1 }.count == 0) }

        let file = TestPaths.fixture("vgg/vgg_oxford_v73.mat")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [file]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(hex(try SHA256.hexDigestBytes(ofFile: file)) == String(text.prefix(64)))
    }

    @Test func distancesFollowDeepface() {
        let a: [Float] = [1, 2, 3], b: [Float] = [2, 0, 1]
        // expected values computed with numpy (deepface's formulas, np.round(d, 6))
        #expect(Distance.distance(a, b, metric: .cosine) == 0.402386)
        #expect(Distance.distance(a, b, metric: .euclidean) == 3.0)
        #expect(Distance.distance(a, b, metric: .euclideanL2) == 0.897091)
        #expect(Distance.distance([0, 0], [1, 1], metric: .cosine) == 1)
        // angular: np.round(np.arccos(np.clip(cos, -1, 1)) / np.pi, 6)
        #expect(Distance.distance(a, b, metric: .angular) == 0.296115)
        #expect(Distance.distance([1, 0], [1, 1], metric: .angular) == 0.25)
        #expect(Distance.distance([1, 0], [-1, 0], metric: .angular) == 1)
        #expect(Distance.distance([3, 4], [6, 8], metric: .angular) == 0)
    }

    @Test func pairsFileParsesMasterFormat() throws {
        let text = "file_x,file_y,Decision\r\nimg1.jpg,img2.jpg,Yes\r\n\"a,b.jpg\",c.jpg,No\r\n"
        let p = try PairsFile(text: text, path: "p.csv")
        #expect(p.pairs.count == 2 && p.hasLabels)
        #expect(p.pairs[1].fileX == "a,b.jpg" && p.pairs[1].sameIdentity == false)
        let unlabelled = try PairsFile(text: "file_x,file_y\nx.jpg,y.jpg\n", path: "p.csv")
        #expect(!unlabelled.hasLabels)
        #expect(throws: FacecError.self) { try PairsFile(text: "a,b\n1,2\n", path: "p.csv") }
        #expect(throws: FacecError.self) { try PairsFile(text: "file_x,file_y,Decision\nx,y,Maybe\n", path: "p.csv") }
    }

    @Test func npyRoundTripsAndRejectsDamage() throws {
        let dir = TempDir()
        let f = NPYFile(shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5])
        let bytes = f.encoded()
        #expect((bytes.count - 0) % 64 == 24)   // header padded to 64; 24 bytes of data
        _ = FileManager.default.createFile(atPath: dir.path("a.npy"), contents: Data(bytes))
        let back = try NPYFile.read(dir.path("a.npy"))
        #expect(back.shape == [2, 3] && back.values == f.values)
        _ = FileManager.default.createFile(atPath: dir.path("t.npy"), contents: Data(bytes.dropLast(4)))
        #expect(throws: FacecError.self) { try NPYFile.read(dir.path("t.npy")) }
    }
}

import FacecImage

extension UnitTests {
    /// DCT-scaled decoding picks the smallest M/8 scale that stays above the
    /// requested minimum (off by default: it changes results, see ARCHITECTURE.md).
    @Test func dctScaledDecodeRespectsMinimum() throws {
        try #require(TestPaths.facesAvailable, "../shared/faces is absent")
        let path = TestPaths.faces.appendingPathComponent("img1.jpg").path
        let full = try ImageDecoder.decodeFile(path)
        let scaled = try ImageDecoder.decodeFile(path, minimum: (width: 94, height: 110))
        #expect(scaled.width >= 94 && scaled.height >= 110)
        #expect(scaled.width * 4 <= full.width && scaled.height * 4 <= full.height)
    }
}
