import Foundation
import FacecCore
import FacecDigest
import Testing
@testable import FacecJoblib

/// facec's reader of joblib's numpy arrays (mtcnn's weights) against joblib
/// itself: files joblib wrote (scripts/fixtures/generate_joblib.py), mtcnn
/// 1.0.0's real weight files checked array by array against what joblib.load
/// reads from them, and hostile inputs refused with a reason.
@Suite struct JoblibReaderTests {
    static let fixtures = TestPaths.fixtures.appendingPathComponent("joblib")

    /// mtcnn 1.0.0's weights (scripts/fetch-weights.sh mtcnn; setup does).
    static var mtcnnWeights: String {
        if let p = ProcessInfo.processInfo.environment["FACEC_MTCNN_WEIGHTS"] { return p }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/facec-weights/mtcnn-1.0.0").path
    }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    static func refusal(_ bytes: [UInt8], maxPickleBytes: Int = JoblibArrays.maxPickleBytes) -> String? {
        do { _ = try JoblibArrays(bytes: bytes, maxPickleBytes: maxPickleBytes); return nil } catch { return error.reason }
    }

    @Test(arguments: ["small.lz4", "small.pkl"])
    func readsWhatJoblibWrote(_ name: String) throws {
        let file = try JoblibArrays(bytes: Self.bytes(Self.fixtures.appendingPathComponent(name).path))
        let shapes = [[2, 3, 4], [5], [0], [1, 1, 3], [], [3, 3, 3, 10]]
        #expect(file.arrays.map(\.shape) == shapes)
        for (i, a) in file.arrays.enumerated() {
            // generate_joblib.py: value k of array i is ((7k + i) mod 101 − 50) / 8.
            let want = (0..<a.values.count).map { k in Float(((7 * k + i) % 101) - 50) / 8 }
            #expect(a.values == want, "array \(i)")
        }
    }

    /// Every array of pnet/rnet/onet.lz4: joblib's shapes and the SHA-256 of
    /// joblib's float32 bytes (mtcnn_weights.json).
    @Test(arguments: ["pnet.lz4", "rnet.lz4", "onet.lz4"])
    func mtcnnWeightsEqualJoblibs(_ name: String) throws {
        let path = Self.mtcnnWeights + "/" + name
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: run scripts/fetch-weights.sh mtcnn (scripts/setup.sh does)")
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("mtcnn_weights.json"))) as! [String: Any]
        let arrays = (reference["files"] as! [String: Any])[name] as! [[String: Any]]
        let file = try JoblibArrays(bytes: Self.bytes(path))
        try #require(file.arrays.count == arrays.count)
        for (a, want) in zip(file.arrays, arrays) {
            #expect(a.shape == want["shape"] as! [Int])
            var digest = SHA256()
            a.values.withUnsafeBytes { digest.update($0) }
            #expect(digest.finish().map { String(format: "%02x", $0) }.joined() == want["sha256"] as! String, "\(name) \(a.shape)")
        }
    }

    // MARK: hostile input

    @Test func damagedFramesAreRefused() throws {
        let lz4 = try Self.bytes(Self.fixtures.appendingPathComponent("small.lz4").path)
        #expect(Self.refusal(Array(lz4.prefix(lz4.count - 9)))?.contains("LZ4 frame ends early") == true)
        #expect(Self.refusal(Array(lz4.prefix(6)))?.contains("LZ4") == true)
        #expect(Self.refusal(lz4 + [0, 0, 0])?.contains("follow the LZ4 frame") == true)
        #expect(Self.refusal(lz4, maxPickleBytes: 1000)?.contains("inflates to more than 1000 bytes") == true)
        // Every single-byte change is refused or read, never a fault.
        for i in stride(from: 4, to: lz4.count, by: 7) {
            var damaged = lz4
            damaged[i] ^= 0x5A
            _ = Self.refusal(damaged)
        }
    }

    /// Byte runs joined (one statement per run keeps Swift 6.0's type checker fast).
    static func join(_ runs: [UInt8]...) -> [UInt8] { runs.flatMap { $0 } }
    static func str(_ s: String) -> [UInt8] { join([0x8C, UInt8(s.utf8.count)], Array(s.utf8)) }
    static func int(_ n: Int) -> [UInt8] {
        if n >= 0 && n < 256 { return [0x4B, UInt8(n)] }
        let bytes: [UInt8] = withUnsafeBytes(of: Int64(n).littleEndian, Array.init)
        return join([0x8A, 8], bytes)
    }

    /// A pickle of one wrapped array, built opcode by opcode as joblib 1.6 writes it.
    static func onePickle(shape: [Int], floats: Int, code: String = "f4", order: String = "C", padding: UInt8 = 0,
                          paddingBytes: Int? = nil) -> [UInt8] {
        var p: [UInt8] = [0x80, 4, 0x5D, 0x28]
        p += join(str("joblib.numpy_pickle"), str("NumpyArrayWrapper"), [0x93, 0x29, 0x81, 0x7D, 0x28])
        p += join(str("subclass"), str("numpy"), str("ndarray"), [0x93])
        p += join(str("shape"), [0x28], shape.flatMap(int), [0x74])
        p += join(str("order"), str(order))
        p += join(str("dtype"), str("numpy"), str("dtype"), [0x93], str(code), [0x89, 0x88, 0x87, 0x52])
        let dtypeState: [UInt8] = [0x4E, 0x4E, 0x4E, 0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0x4B, 0, 0x74, 0x62]
        p += join([0x28, 0x4B, 3], str("<"), dtypeState)
        p += join(str("allow_mmap"), [0x88], str("numpy_array_alignment_bytes"), int(16), [0x75, 0x62])
        p += join([padding], [UInt8](repeating: 0xEE, count: paddingBytes ?? Int(padding)))
        let values: [UInt32] = (0..<floats).map { Float($0).bitPattern.littleEndian }
        p += values.withUnsafeBytes { Array($0) }
        p += [0x65, 0x2E]
        return p
    }

    @Test func builtPicklesReadAsJoblibs() throws {
        let file = try JoblibArrays(bytes: Self.onePickle(shape: [2, 3], floats: 6, padding: 5))
        #expect(file.arrays == [JoblibArrays.Array(shape: [2, 3], values: [0, 1, 2, 3, 4, 5])])
    }

    @Test func hostilePicklesAreRefused() {
        let osSystem = Self.join([0x80, 4, 0x63], Array("os\nsystem\n".utf8), [0x58, 2, 0, 0, 0], Array("ls".utf8), [0x85, 0x52, 0x2E])
        let eval = Self.join([0x80, 4], Self.str("builtins"), Self.str("eval"), [0x93, 0x2E])
        let cut = Array(Self.onePickle(shape: [4], floats: 4).dropLast(2))
        let extra = Self.join(Self.onePickle(shape: [4], floats: 4), [0])
        let marks = Self.join([0x80, 4], [UInt8](repeating: 0x28, count: 20_000))
        var cases: [([UInt8], String)] = []
        // Code execution: any name but the three is refused before use.
        cases.append((osSystem, "'os.system'"))
        cases.append((eval, "'builtins.eval'"))
        // Sizes that lie: more floats than bytes, an overflowing shape.
        cases.append((Self.onePickle(shape: [1_000_000_000], floats: 4), "bytes left"))
        cases.append((Self.onePickle(shape: [1 << 40, 1 << 40], floats: 4), "bytes left"))
        cases.append((Self.onePickle(shape: [-2], floats: 4), "not a count"))
        cases.append((Self.onePickle(shape: [4], floats: 4, padding: 250, paddingBytes: 0), "padding"))
        cases.append((Self.onePickle(shape: [4], floats: 4, code: "f8"), "dtype <f8"))
        cases.append((Self.onePickle(shape: [4], floats: 4, code: "O"), "dtype <O"))
        cases.append((Self.onePickle(shape: [4], floats: 4, order: "F"), "not in C order"))
        cases.append((cut, "ends without STOP"))
        cases.append((extra, "follow STOP"))
        cases.append((Self.onePickle(shape: [Int](repeating: 1, count: 9), floats: 1), "rank"))
        cases.append(([0x80, 4, 0x68, 7, 0x2E], "memo entry 7"))
        cases.append((marks, "open marks"))
        cases.append(([0x80, 4, 0x58, 0xFF, 0xFF, 0xFF, 0x7F], "a string of"))
        cases.append(([0x80, 4, 0x95, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0], "frame of"))
        cases.append(([0x80, 4, 0x4B, 1, 0x4B, 2, 0x2E], "2 values on the stack"))
        cases.append(([0x80, 4, 0x69, 0x2E], "opcode 0x69"))
        cases.append(([0x80, 4, 0x4B, 1, 0x2E], "an int, not a list"))
        cases.append(([], "ends without STOP"))
        for (bytes, want) in cases {
            let reason = Self.refusal(bytes)
            #expect(reason?.contains(want) == true, "expected '\(want)', got \(reason ?? "success")")
        }
    }
}
