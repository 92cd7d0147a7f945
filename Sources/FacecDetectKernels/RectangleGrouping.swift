#if canImport(Glibc)
import Glibc
#endif

/// OpenCV's `groupRectangles(rects, groupThreshold, eps)` (and, with
/// weights, the reject-level form detectMultiScale3 uses): candidates are
/// split into classes of "similar" rectangles (transitively; classes numbered
/// in the order of their first member, as `cv::partition` leaves them), each
/// class averaged (float 1/n, rounded half to even), classes with at most
/// `threshold` members dropped, and a class dropped when it lies inside a
/// bigger one that has more members.
package enum RectangleGrouping {
    package static func group(_ list: [Detection], threshold: Int, eps: Double, useWeights: Bool) -> [Detection] {
        guard threshold > 0, !list.isEmpty else { return list }
        let labels = partition(list, eps: eps)
        let classes = (labels.max() ?? -1) + 1
        var sx = [Int](repeating: 0, count: classes), sy = sx, sw = sx, sh = sx, count = sx
        var best = [Double](repeating: Double.leastNormalMagnitude, count: classes)
        for (i, r) in list.enumerated() {
            let c = labels[i]
            // All candidates passed every stage, so their reject levels are equal: the
            // class takes its first member's weight, then any larger one (OpenCV's rejectWeights).
            if count[c] == 0 || r.weight > best[c] { best[c] = r.weight }
            sx[c] += r.x; sy[c] += r.y; sw[c] += r.width; sh[c] += r.height; count[c] += 1
        }
        var avg: [Detection] = []
        for c in 0..<classes {
            let s = 1 / Float(count[c])
            func round(_ v: Int) -> Int { Int(lrintf(Float(v) * s)) }
            avg.append(Detection(x: round(sx[c]), y: round(sy[c]), width: round(sw[c]), height: round(sh[c]), weight: best[c]))
        }
        var out: [Detection] = []
        for i in 0..<classes {
            let r1 = avg[i], n1 = count[i]
            if n1 <= threshold { continue }
            var inside = false
            for j in 0..<classes where j != i {
                let n2 = count[j]
                if n2 <= threshold { continue }
                let r2 = avg[j]
                let dx = Int(lrint(Double(r2.width) * eps)), dy = Int(lrint(Double(r2.height) * eps))
                if r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.width <= r2.x + r2.width + dx
                    && r1.y + r1.height <= r2.y + r2.height + dy && (n2 > max(3, n1) || n1 < 3) {
                    inside = true
                    break
                }
            }
            if !inside { out.append(useWeights ? r1 : Detection(x: r1.x, y: r1.y, width: r1.width, height: r1.height)) }
        }
        return out
    }

    /// OpenCV's SimilarRects predicate.
    static func similar(_ a: Detection, _ b: Detection, eps: Double) -> Bool {
        let delta = eps * Double(min(a.width, b.width) + min(a.height, b.height)) * 0.5
        return Double(abs(a.x - b.x)) <= delta && Double(abs(a.y - b.y)) <= delta
            && Double(abs(a.x + a.width - b.x - b.width)) <= delta && Double(abs(a.y + a.height - b.y - b.height)) <= delta
    }

    /// Connected classes of the similarity relation, numbered by first
    /// member (union-find; the numbering is what `cv::partition` gives).
    static func partition(_ list: [Detection], eps: Double) -> [Int] {
        var parent = Array(0..<list.count)
        func find(_ i: Int) -> Int {
            var r = i
            while parent[r] != r { r = parent[r] }
            var k = i
            while parent[k] != r { let next = parent[k]; parent[k] = r; k = next }
            return r
        }
        for i in 0..<list.count {
            for j in 0..<i where similar(list[i], list[j], eps: eps) {
                let a = find(i), b = find(j)
                if a != b { parent[max(a, b)] = min(a, b) }
            }
        }
        var label = [Int](repeating: -1, count: list.count)
        var next = 0
        var classOf: [Int: Int] = [:]
        for i in 0..<list.count {
            let root = find(i)
            if let c = classOf[root] { label[i] = c } else { classOf[root] = next; label[i] = next; next += 1 }
        }
        return label
    }
}
