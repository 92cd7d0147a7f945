@testable import FacecMAT
import FacecCore
import Testing
@testable import FacecImporters

/// The MAT v7.3 reader below the importer: every MATLAB class and char
/// encoding decoded to the values the generator wrote, both writers' files
/// listed alike, and the read-size guard (generate_mat_v73.py).
@Suite struct MatV73ReaderTests {
    static func vgg(_ name: String) -> String { TestPaths.fixture("vgg/" + name) }

    @Test func everyClassDecodesToItsValues() throws {
        let file = try MatV73File(path: Self.vgg("vgg_typed_v73.mat"))
        #expect(try file.variableNames() == ["net"])
        let net = try file.read("net")
        let norm = try net.requiredField("normalization")
        func values(_ node: MatNode) throws -> (MatClass, [Double]) { (node.matClass, try node.doubles()) }
        #expect(try values(norm.requiredField("imageSize")) == (.uint64, [224, 224, 3]))
        #expect(try values(norm.requiredField("border")) == (.int64, [0, 0]))
        #expect(try values(norm.requiredField("keepAspect")) == (.logical, [1]))
        let mean = try norm.requiredField("averageImage")
        #expect(mean.matClass == .double && mean.dims() == [1, 1, 3])
        #expect(try mean.doubles().map { Float($0) } == [129.1863, 104.7624, 93.5940])
        #expect(try norm.requiredField("interpolation").string() == "bilinear")   // UTF-32

        let layers = try net.requiredField("layers").cells()
        #expect(layers.count == 39)
        let conv = layers[0]
        #expect(try values(conv.requiredField("pad")) == (.int32, [1, 1, 1, 1]))
        #expect(try values(conv.requiredField("stride")) == (.uint8, [1, 1]))
        #expect(try values(conv.requiredField("size")) == (.uint32, [3, 3, 3, 2]))
        let filters = try conv.requiredField("weights").cells()[0]
        #expect(filters.matClass == .double && filters.dims() == [3, 3, 3, 2])
        #expect(try layers[1].requiredField("name").string() == "relu1_1")                 // 8-bit
        #expect(try values(layers[1].requiredField("leak")) == (.int8, [0]))
        let pool = layers[4]
        #expect(try pool.requiredField("name").string() == "pool1")                        // UTF-32
        #expect(try values(pool.requiredField("pool")) == (.int16, [2, 2]))
        #expect(try values(pool.requiredField("stride")) == (.uint16, [2, 2]))
        #expect(try values(pool.requiredField("pad")) == (.int8, [0, 0, 0, 0]))
        #expect(try values(layers[33].requiredField("rate")) == (.single, [0.5]))
        // conv2_1's filters are stored big-endian; HDF5 converts them.
        let big = try layers[5].requiredField("weights").cells()[0]
        #expect(big.matClass == .single && big.dims() == [3, 3, 2, 4])
        #expect(try big.withFloats { $0.count } == 3 * 3 * 2 * 4)
    }

    /// A struct array (fields as reference datasets) from both writers.
    @Test(arguments: ["vgg_structarray_v73.mat", "vgg_structarray_v73_hdf5storage.mat"])
    func structArraysIndexTheirElements(_ name: String) throws {
        let file = try MatV73File(path: Self.vgg(name))
        #expect(try file.variableNames() == ["layers", "meta"])
        let layers = try file.read("layers")
        #expect(layers.isStruct && layers.dims() == [1, 39])
        #expect(try layers.field("name", index: 38)?.string() == "softmax")
        #expect(try layers.field("type", index: 4)?.string() == "pool")
        #expect(try layers.field("weights", index: 1)?.isEmpty == true)   // [] where relu has no weights
        #expect(try layers.field("nonexistent", index: 0) == nil)
    }

    @Test func emptyArraysKeepTheirClassAndDimensions() throws {
        let layers = try MatV73File(path: Self.vgg("vgg_tidy_v73.mat")).read("layers").cells()
        let opts = try layers[0].requiredField("opts")
        #expect(opts.matClass == .cell && opts.isEmpty && opts.dims() == [0, 0])
        #expect(try opts.cells().isEmpty)
    }

    /// The parallel chunk path (libdeflate on all cores; gzip alone in one
    /// file, shuffle + gzip on float32 and float64 data in the other) gives
    /// the same values as HDF5's own reads, on every conv layer's filters
    /// and biases (partial edge chunks included: fc8's 2622 rows), and its
    /// placement straight into HWIO order the same as reading column-major
    /// and transposing.
    @Test(arguments: ["vgg_oxford_v73.mat", "vgg_typed_v73.mat"])
    func parallelChunkReadsMatchHDF5(_ name: String) throws {
        func weights(parallel: Bool) throws -> (values: [[UInt32]], hwio: [[UInt32]], parallelReads: Int) {
            let file = try MatV73File(path: Self.vgg(name))
            file.parallelReadMinimum = parallel ? 0 : Int.max
            var values: [[UInt32]] = [], hwio: [[UInt32]] = []
            for layer in try file.read("net").requiredField("layers").cells() where try layer.requiredField("type").string() == "conv" {
                let tensors = try layer.requiredField("weights").cells()
                for tensor in tensors { values.append(try tensor.withFloats { $0.map(\.bitPattern) }) }
                var rows: [UInt32] = []
                try tensors[0].streamHWIO { rows += $0.map(\.bitPattern) }
                hwio.append(rows)
            }
            return (values, hwio, file.parallelReads)
        }
        let fast = try weights(parallel: true), reference = try weights(parallel: false)
        #expect(fast.parallelReads >= 4 && reference.parallelReads == 0)
        #expect(fast.values.count == 32 && fast.values == reference.values)
        #expect(fast.hwio.count == 16 && fast.hwio == reference.hwio)
    }

    /// The read guard below the importer's own limits: a dataset declaring
    /// 2^40 values is refused before anything is allocated.
    @Test func hugeDeclaredShapesAreRefusedBeforeReading() throws {
        let mean = try #require(try MatV73File(path: Self.vgg("bad_v73_huge.mat")).read("meta")
            .requiredField("normalization").field("averageImage"))
        #expect(mean.count == 1 << 40)
        let error = try #require(thrown(FacecError.self) { try mean.withFloats { $0.count } })
        #expect(error.reason.contains("more than facec reads"), "\(error)")
    }
}
