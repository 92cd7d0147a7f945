#if canImport(Glibc)
import Glibc
#endif

/// Writes .fgraph files atomically: everything goes to a hidden temporary file
/// next to the destination, which is renamed over it only when complete and
/// synced. Any error, or SIGINT/SIGTERM, removes the temporary file, so a
/// failed or interrupted conversion leaves no output.
public enum ModelWriter {
    /// One tensor's contents, produced on demand so a converter can stream
    /// layer by layer instead of holding every weight in memory.
    public typealias TensorProducer = () throws -> [Float]

    /// - Parameters:
    ///   - header: the plan; tensor offsets and lengths are assigned here.
    ///   - producers: one per `header.tensors` entry, in the same order.
    ///   - progress: called after each tensor with (done, total) bytes.
    /// - Returns: the header as written (with offsets) and the file size.
    @discardableResult
    public static func write(header: ModelHeader, producers: [TensorProducer], to path: String,
                             progress: ((Int, Int) -> Void)? = nil) throws -> (header: ModelHeader, fileSize: Int) {
        precondition(producers.count == header.tensors.count)
        var h = header
        var cursor = 0
        for i in h.tensors.indices {
            h.tensors[i].offset = cursor
            h.tensors[i].length = h.tensors[i].elementCount * 4
            cursor = align(cursor + h.tensors[i].length)
        }
        let dataLength = cursor
        let headerBytes = HeaderEncoding.encode(h)
        let dataOffset = align(Preamble.size + headerBytes.count)

        let temp = try TemporaryFile(destination: path)
        defer { temp.discardIfPresent() }
        // Placeholder preamble; rewritten with the final checksums at the end.
        try temp.write([UInt8](repeating: 0, count: Preamble.size))
        try temp.write(headerBytes)
        try temp.write([UInt8](repeating: 0, count: dataOffset - Preamble.size - headerBytes.count))
        var dataCRC: UInt32 = 0
        var written = 0
        for (i, produce) in producers.enumerated() {
            let values = try produce()
            guard values.count == h.tensors[i].elementCount else {
                throw FormatError(path, "internal error: tensor \(h.tensors[i].name) produced \(values.count) values for shape \(h.tensors[i].shape)")
            }
            try values.withUnsafeBytes { raw in
                dataCRC = crc32c(raw, continuing: dataCRC)
                try temp.write(raw)
            }
            let pad = [UInt8](repeating: 0, count: align(values.count * 4) - values.count * 4)
            pad.withUnsafeBytes { dataCRC = crc32c($0, continuing: dataCRC) }
            try temp.write(pad)
            written += values.count * 4 + pad.count
            progress?(written, dataLength)
        }
        let headerCRC = headerBytes.withUnsafeBytes { crc32c($0) }
        let preamble = Preamble(headerLength: UInt64(headerBytes.count), dataOffset: UInt64(dataOffset),
                                dataLength: UInt64(dataLength), headerCRC: headerCRC, dataCRC: dataCRC)
        try temp.write(preamble.encoded(), at: 0)
        try temp.commit()
        return (h, dataOffset + dataLength)
    }

    static func align(_ n: Int) -> Int {
        (n + Preamble.dataAlignment - 1) / Preamble.dataAlignment * Preamble.dataAlignment
    }
}
