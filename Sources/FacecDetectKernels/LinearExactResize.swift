#if canImport(Glibc)
import Glibc
#endif

/// OpenCV's `resize(INTER_LINEAR_EXACT)` of an 8-bit single-channel image,
/// bit for bit: the pyramid its `CascadeClassifier` scans. Source
/// coordinates come from double arithmetic (`(dx + 0.5) / inv_scale - 0.5`),
/// weights are 8.8 fixed point (the upper weight rounded half to even, the
/// lower 256 minus it), rows are blended horizontally into 16-bit sums and
/// then vertically with rounding (`(a·w0 + b·w1 + 2^15) >> 16`); points left
/// of (right of) the source repeat its first (last) pixel. Two special cases
/// as in OpenCV: the same size is a copy, and an exact halving in both
/// directions is a 2×2 average (INTER_AREA), `(a + b + c + d + 2) >> 2`.
///
/// Output rows are produced one at a time (`row(_:into:)`), so a detector can
/// scan a scale in bands without holding the whole resized image.
struct LinearExactResize: Sendable {
    let source: GrayImage
    let width: Int, height: Int
    private enum Mode { case copy, halve, linear }
    private let mode: Mode
    private let x: Taps, y: Taps

    /// Offsets and 8.8 weights along one axis.
    struct Taps {
        var offset: [Int32]
        var w0: [UInt16], w1: [UInt16]
        /// Destination points in [minIndex, maxIndex) interpolate; those below
        /// repeat source pixel 0, those above the last source pixel.
        var minIndex = 0, maxIndex: Int

        init(invScale: Double, source: Int, destination: Int) {
            offset = [Int32](repeating: 0, count: destination)
            w0 = [UInt16](repeating: 0, count: destination)
            w1 = [UInt16](repeating: 0, count: destination)
            maxIndex = destination
            let scale = 1.0 / invScale
            for d in 0..<destination {
                let f = scale * (Double(d) + 0.5) - 0.5
                let i = Int(floor(f))
                if i >= 0 && source > 1 {
                    if i < source - 1 {
                        offset[d] = Int32(i)
                        let c1 = UInt16(lrint((f - Double(i)) * 256))   // round half to even, as cvRound(softdouble)
                        w1[d] = c1
                        w0[d] = 256 - c1
                    } else {
                        offset[d] = Int32(source - 1)
                        maxIndex = min(maxIndex, d)
                    }
                } else {
                    minIndex = max(minIndex, d + 1)
                }
            }
        }
    }

    init(_ source: GrayImage, width: Int, height: Int) {
        precondition(width > 0 && height > 0 && source.width > 0 && source.height > 0)
        self.source = source
        self.width = width
        self.height = height
        let invX = Double(width) / Double(source.width), invY = Double(height) / Double(source.height)
        let scaleX = 1 / invX, scaleY = 1 / invY
        if width == source.width && height == source.height {
            mode = .copy
        } else if abs(scaleX - lrint(scaleX).asDouble) < Double.ulpOfOne && abs(scaleY - lrint(scaleY).asDouble) < Double.ulpOfOne
                    && lrint(scaleX) == 2 && lrint(scaleY) == 2 {
            mode = .halve
        } else {
            mode = .linear
        }
        x = Taps(invScale: invX, source: source.width, destination: width)
        y = Taps(invScale: invY, source: source.height, destination: height)
    }

    /// Source pixels (rows or columns) an output row or column reads with a
    /// non-zero weight, or a superset of them: an output pixel is 0 when all
    /// of these are 0, which lets a detector skip a black frame.
    func sourceRows(of dy: Int) -> ClosedRange<Int> { Self.span(dy, y, source: source.height, mode: mode) }
    func sourceColumns(of dx: Int) -> ClosedRange<Int> { Self.span(dx, x, source: source.width, mode: mode) }

    private static func span(_ d: Int, _ t: Taps, source: Int, mode: Mode) -> ClosedRange<Int> {
        switch mode {
        case .copy: return d...d
        case .halve: return (2 * d)...(2 * d + 1)
        case .linear:
            if d < t.minIndex { return 0...0 }
            if d >= t.maxIndex { return (source - 1)...(source - 1) }
            let o = Int(t.offset[d])
            return o...(o + (t.w1[d] == 0 ? 0 : 1))
        }
    }

    /// Scratch for `row`: two horizontally blended source rows (over the
    /// scratch's columns) and which source rows they hold.
    struct Scratch {
        let columns: Range<Int>
        var a: [UInt16], b: [UInt16]
        var rowA = -1, rowB = -1
        init(columns: Range<Int>) {
            self.columns = columns
            a = [UInt16](repeating: 0, count: columns.count); b = a
        }
    }

    /// Scratch for producing the output columns `columns` of each row.
    func makeScratch(columns: Range<Int>? = nil) -> Scratch { Scratch(columns: columns ?? 0..<width) }

    /// Writes the scratch's columns of output row `dy` to `out`.
    func row(_ dy: Int, into out: UnsafeMutablePointer<UInt8>, scratch: inout Scratch) {
        let cols = scratch.columns, n = cols.count
        source.pixels.withUnsafeBufferPointer { src in
            let sw = source.width
            switch mode {
            case .copy:
                out.update(from: src.baseAddress! + dy * sw + cols.lowerBound, count: n)
            case .halve:
                let r0 = src.baseAddress! + 2 * dy * sw, r1 = r0 + sw
                for i in 0..<n {
                    let dx = cols.lowerBound + i
                    let s = UInt16(r0[2 * dx]) + UInt16(r0[2 * dx + 1]) + UInt16(r1[2 * dx]) + UInt16(r1[2 * dx + 1])
                    out[i] = UInt8((s + 2) >> 2)
                }
            case .linear:
                if dy < y.minIndex || dy >= y.maxIndex {
                    let sy = dy < y.minIndex ? 0 : source.height - 1
                    blendedRow(sy, src, cols, &scratch.a, &scratch.rowA)
                    for i in 0..<n { out[i] = UInt8(min(255, (UInt32(scratch.a[i]) + 128) >> 8)) }
                    return
                }
                let sy = Int(y.offset[dy])
                // Keep the two rows in order (a = sy, b = sy + 1), reusing what is there.
                if scratch.rowA != sy {
                    if scratch.rowB == sy { swap(&scratch.a, &scratch.b); swap(&scratch.rowA, &scratch.rowB) } else { blendedRow(sy, src, cols, &scratch.a, &scratch.rowA) }
                }
                if scratch.rowB != sy + 1 { blendedRow(sy + 1, src, cols, &scratch.b, &scratch.rowB) }
                let w0 = UInt32(y.w0[dy]), w1 = UInt32(y.w1[dy])
                scratch.a.withUnsafeBufferPointer { a in
                    scratch.b.withUnsafeBufferPointer { b in
                        for i in 0..<n {
                            let v = (UInt32(a[i]) * w0 + UInt32(b[i]) * w1 + 32768) >> 16
                            out[i] = UInt8(min(255, v))
                        }
                    }
                }
            }
        }
    }

    /// Source row `sy` blended horizontally into 8.8 fixed point, over output columns `cols`.
    private func blendedRow(_ sy: Int, _ src: UnsafeBufferPointer<UInt8>, _ cols: Range<Int>, _ line: inout [UInt16], _ which: inout Int) {
        let s = src.baseAddress! + sy * source.width
        let c0 = cols.lowerBound
        line.withUnsafeMutableBufferPointer { d in
            x.offset.withUnsafeBufferPointer { ofs in
                x.w0.withUnsafeBufferPointer { w0 in
                    x.w1.withUnsafeBufferPointer { w1 in
                        let first = UInt16(s[0]) << 8
                        for dx in cols.clamped(to: 0..<x.minIndex) { d[dx - c0] = first }
                        if x.maxIndex < width {
                            let last = UInt16(s[Int(ofs[width - 1])]) << 8
                            for dx in cols.clamped(to: x.maxIndex..<width) { d[dx - c0] = last }
                        }
                        if x.minIndex < x.maxIndex {
                            for dx in cols.clamped(to: x.minIndex..<x.maxIndex) {
                                let p = s + Int(ofs[dx])
                                // The second tap is read only when the source is wider than 2 (or weighted).
                                let second = w1[dx] == 0 ? 0 : UInt32(p[1]) * UInt32(w1[dx])
                                d[dx - c0] = UInt16(UInt32(p[0]) * UInt32(w0[dx]) + second)
                            }
                        }
                    }
                }
            }
        }
        which = sy
    }
}

extension Int {
    fileprivate var asDouble: Double { Double(self) }
}
