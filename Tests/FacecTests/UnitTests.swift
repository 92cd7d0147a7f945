import Foundation
import Testing
import FacecFormat
import FacecImporters
import FacecVerify

@Suite struct UnitTests {
    @Test func sha256KnownVectors() throws {
        func hex(_ s: String) -> String {
            var h = SHA256()
            Array(s.utf8).withUnsafeBytes { h.update($0) }
            return h.finish().map { String(format: "%02x", $0) }.joined()
        }
        #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func distancesFollowDeepface() {
        let a: [Float] = [1, 2, 3], b: [Float] = [2, 0, 1]
        // expected values computed with numpy (deepface's formulas, np.round(d, 6))
        #expect(Distance.distance(a, b, metric: .cosine) == 0.402386)
        #expect(Distance.distance(a, b, metric: .euclidean) == 3.0)
        #expect(Distance.distance(a, b, metric: .euclideanL2) == 0.897091)
        #expect(Distance.distance([0, 0], [1, 1], metric: .cosine) == 1)
    }

    @Test func pairsFileParsesMasterFormat() throws {
        let text = "file_x,file_y,Decision\r\nimg1.jpg,img2.jpg,Yes\r\n\"a,b.jpg\",c.jpg,No\r\n"
        let p = try PairsFile(text: text, path: "p.csv")
        #expect(p.pairs.count == 2 && p.hasLabels)
        #expect(p.pairs[1].fileX == "a,b.jpg" && p.pairs[1].sameIdentity == false)
        let unlabelled = try PairsFile(text: "file_x,file_y\nx.jpg,y.jpg\n", path: "p.csv")
        #expect(!unlabelled.hasLabels)
        #expect(throws: VerifyError.self) { try PairsFile(text: "a,b\n1,2\n", path: "p.csv") }
        #expect(throws: VerifyError.self) { try PairsFile(text: "file_x,file_y,Decision\nx,y,Maybe\n", path: "p.csv") }
    }

    @Test func npyRoundTripsAndRejectsDamage() throws {
        let dir = TempDir()
        let f = NPYFile(shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5])
        let bytes = f.encoded()
        #expect((bytes.count - 0) % 64 == 24)   // header padded to 64; 24 bytes of data
        FileManager.default.createFile(atPath: dir.path("a.npy"), contents: Data(bytes))
        let back = try NPYFile.read(dir.path("a.npy"))
        #expect(back.shape == [2, 3] && back.values == f.values)
        FileManager.default.createFile(atPath: dir.path("t.npy"), contents: Data(bytes.dropLast(4)))
        #expect(throws: VerifyError.self) { try NPYFile.read(dir.path("t.npy")) }
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
