/// Bounds-checked walk over a JPEG's marker segments (the untrusted bytes
/// before the entropy-coded data), shared by the EXIF reader and the
/// truncation check.
enum JPEGStructure {
    enum WalkEnd: Equatable {
        /// Reached a Start-Of-Scan; the offset is just past its header segment.
        case startOfScan(dataStart: Int)
        /// The bytes ended (or a segment ran past the end) before any scan.
        case endOfData
        /// An EOI before any scan, or an impossible segment length: the
        /// structure cannot be followed.
        case lostSync
        /// The body asked to stop.
        case stopped
    }

    /// Calls `body(marker, payload)` for each segment after SOI and before the
    /// first SOS; `payload` excludes the 2-byte length. Return false to stop.
    static func walkSegments(_ b: UnsafeRawBufferPointer,
                             _ body: (UInt8, Range<Int>) -> Bool) -> WalkEnd {
        let n = b.count
        guard n >= 2 else { return .endOfData }
        guard b[0] == 0xFF, b[1] == 0xD8 else { return .lostSync }
        var pos = 2
        while true {
            // Like libjpeg's next_marker(): skip junk up to an FF, then FF
            // fill bytes; "FF 00" is junk too. (libjpeg warns "extraneous
            // bytes before marker" and carries on, so we must follow it.)
            while pos < n && b[pos] != 0xFF { pos += 1 }
            var m = pos + 1
            while m < n && b[m] == 0xFF { m += 1 }
            guard m < n else { return .endOfData }
            let marker = b[m]
            pos = m + 1
            if marker == 0x00 { continue }
            if marker == 0x01 || (0xD0...0xD8).contains(marker) { continue }  // no length
            if marker == 0xD9 { return .lostSync }
            guard pos + 2 <= n else { return .endOfData }
            let length = Int(b[pos]) << 8 | Int(b[pos + 1])
            guard length >= 2 else { return .lostSync }
            guard pos + length <= n else { return .endOfData }
            if marker == 0xDA { return .startOfScan(dataStart: pos + length) }
            if !body(marker, (pos + 2)..<(pos + length)) { return .stopped }
            pos += length
        }
    }

    /// False when the file is visibly cut short: it ends inside the headers,
    /// or no EOI marker (FF D9) follows the first scan. In entropy-coded data
    /// FF is always followed by 00 or RSTn, so FF D9 there is the real EOI;
    /// data appended after the EOI (e.g. MPF second images) is harmless.
    /// True when the structure cannot be followed (libjpeg will say why).
    static func hasEndMarkerAfterScan(_ b: UnsafeRawBufferPointer) -> Bool {
        switch walkSegments(b, { _, _ in true }) {
        case .endOfData: return false
        case .lostSync, .stopped: return true
        case .startOfScan(let start):
            guard start < b.count - 1 else { return false }
            // Backwards: a complete file usually ends with FF D9, so this is O(1).
            var i = b.count - 2
            while i >= start {
                if b[i] == 0xFF && b[i + 1] == 0xD9 { return true }
                i -= 1
            }
            return false
        }
    }
}
