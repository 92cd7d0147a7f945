import Foundation
import FacecCore
import Testing
import FacecFormat
import FacecGraph
import FacecImporters
import FacecRuntime

/// f16/int8 weights in the file format (1.2): what is written reads back,
/// and a file whose reduced-precision tensors do not fit their nodes is
/// refused in one line naming the file, never run.
@Suite struct ReducedWeightFormatTests {
    /// The stored values of tensor `i` of `file` as float32 (q for int8).
    static func storedValues(_ file: ModelFile, _ i: Int) -> [Float] {
        let t = file.header.tensors[i], raw = file.tensorBytes(i)
        switch t.elementType {
        case .f32: return Array(file.tensor(i))
        case .f16: return (0..<t.elementCount).map { Float(raw.loadUnaligned(fromByteOffset: 2 * $0, as: Float16.self)) }
        case .i8: return (0..<t.elementCount).map { Float(raw.load(fromByteOffset: $0, as: Int8.self)) }
        }
    }

    /// Writes `file`'s tensors again under a mutated header.
    static func rewrite(_ file: ModelFile, to path: String, _ mutate: (inout ModelHeader) -> Void) throws {
        var h = file.header
        mutate(&h)
        let producers = h.tensors.indices.map { i -> ModelWriter.TensorProducer in
            let values = i < file.header.tensors.count ? storedValues(file, i) : []
            return { sink in try values.withUnsafeBufferPointer { try sink($0) } }
        }
        try ModelWriter.write(header: h, producers: producers, to: path)
    }

    @Test func int8ModelRoundTripsAndRuns() throws {
        let dir = TempDir()
        var options = CompileOptions()
        options.weights = .int8
        let model = try convertAndLoad(TestPaths.fixture("deepid_keras22.h5"), to: dir, options: options)
        let h = model.header
        #expect(h.weightPrecision == .int8)
        let weighted = h.nodes.filter { !$0.params.isEmpty }
        #expect(weighted.count == 6)
        for n in weighted {
            let type = h.tensors[n.params[0]].elementType
            #expect(type == .i8 || type == .f16, "\(n.name): \(type)")
            #expect(n.params.count == (type == .i8 ? 3 : 2), "\(n.name)")
            #expect(n.weightError > 0 && n.weightError < 0.02, "\(n.name): \(n.weightError)")
            #expect(n.kernel != .conv2dWinogradF43)
        }
        // The same file read again as another process would, with checksums.
        let again = try ModelFile(path: model.path)
        #expect(again.header == h)
        _ = try Model(path: model.path)   // reading checks the data checksum
    }

    @Test func mismatchedReducedTensorsAreRefused() throws {
        let dir = TempDir()
        var options = CompileOptions()
        options.weights = .int8
        let good = try convertAndLoad(TestPaths.fixture("deepid_keras22.h5"), to: dir, options: options).file
        let int8Node = try #require(good.header.nodes.firstIndex { $0.params.count == 3 })
        let otherScales = try #require(good.header.nodes.lastIndex { $0.params.count == 3 && $0.kernel != good.header.nodes[int8Node].kernel })

        func refused(_ name: String, _ mutate: (inout ModelHeader) -> Void, mentioning text: String,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
            let path = dir.path(name + ".fgraph")
            try Self.rewrite(good, to: path, mutate)
            let error = thrown(FacecError.self, sourceLocation: sourceLocation) { try Model(path: path) }
            #expect(error?.path == path, sourceLocation: sourceLocation)
            #expect(error?.reason.contains(text) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
            #expect(error.map { !$0.description.contains("\n") } ?? false, sourceLocation: sourceLocation)
        }
        try refused("no-scales", { $0.nodes[int8Node].params.removeLast() }, mentioning: "has 2 weight tensors, expected 3")
        try refused("half-bias", { $0.tensors[$0.nodes[int8Node].params[1]].elementType = .f16 }, mentioning: "is f16, expected float32")
        try refused("half-scales", { $0.tensors[$0.nodes[int8Node].params[2]].elementType = .f16 }, mentioning: "int8 scales")
        try refused("wrong-scales", { h in
            let other = h.nodes[otherScales].params[2]
            if h.tensors[other].shape != h.tensors[h.nodes[int8Node].params[2]].shape { h.nodes[int8Node].params[2] = other }
            else { h.tensors[other].shape = [h.tensors[other].shape[0] + 8]; h.nodes[int8Node].params[2] = other }
        }, mentioning: "int8 scales")
        try refused("f16-where-int8", { h in
            // int8 weights relabelled f16: twice the bytes, the params still
            // name scales (a third tensor a half layer does not take).
            h.tensors[h.nodes[int8Node].params[0]].elementType = .f16
        }, mentioning: "has 3 weight tensors, expected 2")
    }

    @Test func writerRefusesValuesThatAreNotQuantised() throws {
        let dir = TempDir()
        var h = try ModelFile(path: convertAndLoad(TestPaths.fixture("deepid_keras22.h5"), to: dir).path).header
        let index = try #require(h.tensors.firstIndex { $0.name.hasSuffix("/bias") })
        h.tensors[index].elementType = .i8
        let producers = h.tensors.map { t -> ModelWriter.TensorProducer in
            { sink in try [Float](repeating: 0.5, count: t.elementCount).withUnsafeBufferPointer { try sink($0) } }
        }
        let out = dir.path("bad.fgraph")
        let error = thrown(FacecError.self) { try ModelWriter.write(header: h, producers: producers, to: out) }
        #expect(error?.reason.contains("not a quantised value") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(dir.files == ["deepid_keras22.fgraph"], "no temporary file left: \(dir.files)")
    }
}
