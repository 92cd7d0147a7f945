import FacecCore
#if canImport(Glibc)
import Glibc

#endif

/// Writes .fgraph files atomically: everything goes to a hidden temporary file
/// next to the destination, which is renamed over it only when complete and
/// synced. Any error, or SIGINT/SIGTERM, removes the temporary file, so a
/// failed or interrupted conversion leaves no output.
public enum ModelWriter {
    /// Receives a tensor's values in order, in as many chunks as the producer
    /// likes. Values are float32 whatever the tensor's element type: the
    /// writer narrows them (f16: round to nearest even; i8: the producer has
    /// already quantised, so each value must be a whole number in -127...127).
    public typealias TensorSink = (UnsafeBufferPointer<Float>) throws -> Void
    /// Writes one tensor's contents into the sink, on demand, so a converter
    /// streams layer by layer (and may transpose in chunks) instead of
    /// holding a second copy of the weights in memory.
    public typealias TensorProducer = (TensorSink) throws -> Void

    /// - Parameters:
    ///   - header: the plan; tensor offsets and lengths are assigned here.
    ///   - producers: one per `header.tensors` entry, in the same order.
    ///   - progress: called after each tensor with (done, total) bytes.
    /// - Returns: the header as written (with offsets) and the file size.
    @discardableResult
    public static func write(header: ModelHeader, producers: [TensorProducer], to path: String,
                             progress: ((Int, Int) -> Void)? = nil) throws -> (header: ModelHeader, fileSize: Int) {
        try write(header: header, producers: producers, to: try checkedOutput(path), progress: progress)
    }

    /// `path` as a model's output: a regular file (or a new one), never a device.
    public static func checkedOutput(_ path: String, inputs: [String] = []) throws -> OutputFile {
        try OutputFile.check(path, inputs: inputs, regularFileFor: "a model")
    }

    /// The same, to an output already checked (`checkedOutput`).
    @discardableResult
    public static func write(header: ModelHeader, producers: [TensorProducer], to output: OutputFile,
                             progress: ((Int, Int) -> Void)? = nil) throws -> (header: ModelHeader, fileSize: Int) {
        let path = output.path
        precondition(producers.count == header.tensors.count)
        try checkPrintable(header, path: path)
        var h = header
        var cursor = 0
        for i in h.tensors.indices {
            h.tensors[i].offset = cursor
            h.tensors[i].length = h.tensors[i].elementCount * h.tensors[i].elementType.byteSize
            cursor = align(cursor + h.tensors[i].length)
        }
        let dataLength = cursor
        let headerBytes = HeaderEncoding.encode(h)
        let dataOffset = align(Preamble.size + headerBytes.count)

        let temp = try TemporaryFile(output)
        defer { temp.discardIfPresent() }
        // Placeholder preamble; rewritten with the final checksums at the end.
        try temp.write([UInt8](repeating: 0, count: Preamble.size))
        try temp.write(headerBytes)
        try temp.write([UInt8](repeating: 0, count: dataOffset - Preamble.size - headerBytes.count))
        var dataCRC: UInt32 = 0
        var written = 0
        var narrowed: [UInt8] = []
        for (i, produce) in producers.enumerated() {
            var count = 0
            let type = h.tensors[i].elementType
            try produce { chunk in
                if type == .f32 {
                    let raw = UnsafeRawBufferPointer(chunk)
                    dataCRC = crc32c(raw, continuing: dataCRC)
                    try temp.write(raw)
                } else {
                    try narrow(chunk, to: type, into: &narrowed, tensor: h.tensors[i].name, path: path)
                    try narrowed.withUnsafeBytes { raw in
                        dataCRC = crc32c(raw, continuing: dataCRC)
                        try temp.write(raw)
                    }
                }
                count += chunk.count
            }
            guard count == h.tensors[i].elementCount else {
                throw FacecError(.model, path, "internal error: tensor \(h.tensors[i].name) produced \(count) values for shape \(h.tensors[i].shape)")
            }
            let bytes = count * type.byteSize
            let pad = [UInt8](repeating: 0, count: align(bytes) - bytes)
            pad.withUnsafeBytes { dataCRC = crc32c($0, continuing: dataCRC) }
            try temp.write(pad)
            written += bytes + pad.count
            progress?(written, dataLength)
        }
        let headerCRC = headerBytes.withUnsafeBytes { crc32c($0) }
        let preamble = Preamble(headerLength: UInt64(headerBytes.count), dataOffset: UInt64(dataOffset),
                                dataLength: UInt64(dataLength), headerCRC: headerCRC, dataCRC: dataCRC)
        try temp.write(preamble.encoded(), at: 0)
        try temp.commit()
        return (h, dataOffset + dataLength)
    }

    /// The loader refuses names with control characters (they would forge
    /// output lines); a source that carries one is refused here, before writing.
    private static func checkPrintable(_ h: ModelHeader, path: String) throws {
        // Built in steps: one `+` chain of closures is too much for Swift 6.0's type checker.
        var names: [(String, String)] = [("the model name", h.modelName), ("the output name", h.output.name), ("the input note", h.input.note)]
        names += h.classNames.map { ("class name '\($0)'", $0) }
        names += h.tensors.map { ("tensor '\($0.name)'", $0.name) }
        names += h.values.map { ("value '\($0.name)'", $0.name) }
        for n in h.nodes {
            names.append(("layer '\(n.name)'", n.name))
            names += n.fused.map { ("layer '\(n.name)'", $0) }
        }
        names += [("the source file name", h.provenance.sourceFile), ("the source format", h.provenance.sourceFormat),
                  ("the architecture", h.provenance.architecture), ("the converter version", h.provenance.converterVersion)]
        for (what, text) in names {
            if let bad = HeaderDecoding.controlCharacter(in: text) {
                throw FacecError(.model, path, "cannot write the model: \(oneLine(what)) holds the control character \(bad)")
            }
        }
    }

    /// float32 values -> `type`'s bytes (little-endian) in `out`.
    private static func narrow(_ chunk: UnsafeBufferPointer<Float>, to type: ElementType, into out: inout [UInt8],
                               tensor: String, path: String) throws {
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(chunk.count * type.byteSize)
        switch type {
        case .f32:
            out.append(contentsOf: UnsafeRawBufferPointer(chunk))
        case .f16:
            for v in chunk { let b = Float16(v).bitPattern.littleEndian; out.append(UInt8(b & 0xff)); out.append(UInt8(b >> 8)) }
        case .i8:
            for v in chunk {
                guard let q = Int8(exactly: v), q != -128 else {
                    throw FacecError(.model, path, "internal error: int8 tensor \(tensor) was given \(v), not a quantised value in -127...127")
                }
                out.append(UInt8(bitPattern: q))
            }
        }
    }

    static func align(_ n: Int) -> Int {
        (n + Preamble.dataAlignment - 1) / Preamble.dataAlignment * Preamble.dataAlignment
    }
}
