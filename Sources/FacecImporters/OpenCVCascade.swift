import FacecDigest
import FacecXML
import FacecCore
import FacecFormat
#if canImport(Glibc)
import Glibc
#endif

/// Reads an OpenCV cascade XML file (`CascadeClassifier` "new" format:
/// `<cascade type_id="opencv-cascade-classifier">`) into the form facec's
/// detector runs, with the same number conversions OpenCV makes when it
/// loads one: numbers parsed by strtod, thresholds and leaves converted to
/// float32, each stage threshold lowered by 1e-5f. Only what deepface's
/// detector uses is accepted: BOOST stages of HAAR stumps (one split per
/// weak classifier), upright features; anything else is refused by name.
public enum OpenCVCascade {
    /// Debian's opencv-data puts the cascades here.
    public static let debianDirectory = "/usr/share/opencv4/haarcascades"
    public static let faceFile = "haarcascade_frontalface_default.xml"
    public static let eyeFile = "haarcascade_eye.xml"
    static let maxFileBytes = 64 << 20

    /// deepface's `opencv` detector: the frontal-face and eye cascades (from
    /// Debian's opencv-data unless paths are given) with the parameters
    /// deepface calls them with, and their names and SHA-256 as its source.
    public static func detector(faceCascade: String? = nil, eyeCascade: String? = nil) throws -> DetectorSpec {
        let facePath = faceCascade ?? debianDirectory + "/" + faceFile
        let eyePath = eyeCascade ?? debianDirectory + "/" + eyeFile
        for (path, given) in [(facePath, faceCascade), (eyePath, eyeCascade)] where given == nil && access(path, F_OK) != 0 {
            throw FacecError(.weights, path, "no such file (install Debian's opencv-data, or give --face-cascade and --eye-cascade)")
        }
        let (face, faceSHA) = try loadWithDigest(path: facePath)
        let (eye, eyeSHA) = try loadWithDigest(path: eyePath)
        func name(_ p: String) -> String { p.split(separator: "/").last.map(String.init) ?? p }
        let source = "\(name(facePath)) sha256 \(faceSHA), \(name(eyePath)) sha256 \(eyeSHA)"
        return DetectorSpec(face: face, eye: eye, source: source)
    }

    public static func load(path: String) throws -> HaarCascade { try loadWithDigest(path: path).cascade }

    static func loadWithDigest(path: String) throws -> (cascade: HaarCascade, sha256: String) {
        try checkReadableFile(path)
        let bytes = try readAll(path)
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update($0) }
        let digest = hasher.finish().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let root: MiniXML.Element
        do { root = try MiniXML.parse(bytes) } catch let f as MiniXML.Failure {
            throw FacecError(.weights, path, "not a valid XML cascade: \(f.reason)")
        }
        do {
            let cascade = try read(root)
            if let p = cascade.problem() { throw ReadFault(p) }
            return (cascade, digest)
        } catch let f as ReadFault {
            throw FacecError(.weights, path, f.reason)
        }
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        switch InputFile.readAll(path, maxBytes: maxFileBytes) {
        case .success(let bytes): return bytes
        case .failure(let problem): throw FacecError(.io, path, problem.reason)
        }
    }

    static func read(_ root: MiniXML.Element) throws -> HaarCascade {
        guard root.name == "opencv_storage" else { throw ReadFault("not an OpenCV storage file (root <\(root.name)>)") }
        // OpenCV reads the first top-level node; the current format needs no type_id.
        guard let c = root.children.first else { throw ReadFault("holds no cascade") }
        switch c.attributes["type_id"] {
        case nil, "opencv-cascade-classifier": break
        case "opencv-haar-classifier":
            throw ReadFault("is an old-format Haar cascade (opencv-haar-classifier); facec reads the current format, as OpenCV's own cascades are")
        default:
            throw ReadFault("<\(c.name)> is of type '\(c.attributes["type_id"] ?? "")', not an OpenCV cascade classifier")
        }
        let stageType = try text(c, "stageType")
        guard stageType == "BOOST" else { throw ReadFault("stage type '\(stageType)' is not supported (BOOST only)") }
        let featureType = try text(c, "featureType")
        guard featureType == "HAAR" else { throw ReadFault("feature type '\(featureType)' is not supported (HAAR only)") }
        let width = try int(c, "width"), height = try int(c, "height")
        if let cats = c.child("featureParams")?.child("maxCatCount") {
            guard try numbers(cats, "maxCatCount") == [0] else { throw ReadFault("categorical features are not supported") }
        }
        guard let stagesNode = c.child("stages"), !stagesNode.children.isEmpty else { throw ReadFault("has no stages") }
        var stages: [HaarCascade.Stage] = [], stumps: [HaarCascade.Stump] = []
        for (si, s) in stagesNode.children.enumerated() {
            let where_ = "stage \(si + 1)"
            let t = try numbers(s.child("stageThreshold"), "\(where_) threshold")
            guard t.count == 1 else { throw ReadFault("\(where_) has no single threshold") }
            guard let weak = s.child("weakClassifiers"), !weak.children.isEmpty else { throw ReadFault("\(where_) has no weak classifiers") }
            stages.append(HaarCascade.Stage(count: weak.children.count, threshold: Float(t[0]) - 1e-5))
            for (wi, w) in weak.children.enumerated() {
                let label = "\(where_) weak classifier \(wi + 1)"
                let nodes = try numbers(w.child("internalNodes"), "\(label) internalNodes")
                let leaves = try numbers(w.child("leafValues"), "\(label) leafValues")
                guard nodes.count == 4, leaves.count == 2 else {
                    throw ReadFault("\(label) is a tree of \(nodes.count / 4) splits; facec runs single-split (stump) cascades")
                }
                guard let feature = Int(exactly: nodes[2]) else { throw ReadFault("\(label) names feature \(nodes[2])") }
                stumps.append(HaarCascade.Stump(feature: feature, threshold: Float(nodes[3]), left: Float(leaves[0]), right: Float(leaves[1])))
                guard stumps.count <= HaarCascade.maxStumps else { throw ReadFault("more than \(HaarCascade.maxStumps) weak classifiers") }
            }
            guard stages.count <= HaarCascade.maxStages else { throw ReadFault("more than \(HaarCascade.maxStages) stages") }
        }
        guard let featuresNode = c.child("features"), !featuresNode.children.isEmpty else { throw ReadFault("has no features") }
        guard featuresNode.children.count <= HaarCascade.maxStumps else { throw ReadFault("more than \(HaarCascade.maxStumps) features") }
        var features: [[HaarCascade.Rect]] = []
        for (fi, f) in featuresNode.children.enumerated() {
            if let tilted = f.child("tilted"), try numbers(tilted, "tilted") != [0] {
                throw ReadFault("feature \(fi + 1) is tilted; facec supports upright Haar features only")
            }
            guard let rects = f.child("rects"), (1...3).contains(rects.children.count) else {
                throw ReadFault("feature \(fi + 1) does not have 1 to 3 rectangles")
            }
            features.append(try rects.children.map { r in
                let v = try numbers(r, "feature \(fi + 1) rectangle")
                guard v.count == 5, v[0...3].allSatisfy({ Int(exactly: $0) != nil }) else {
                    throw ReadFault("feature \(fi + 1) has a rectangle that is not 'x y w h weight'")
                }
                return HaarCascade.Rect(x: Int(v[0]), y: Int(v[1]), width: Int(v[2]), height: Int(v[3]), weight: Float(v[4]))
            })
        }
        return HaarCascade(windowWidth: width, windowHeight: height, stages: stages, stumps: stumps, features: features)
    }

    private static func text(_ e: MiniXML.Element, _ name: String) throws -> String {
        guard let c = e.child(name) else { throw ReadFault("missing <\(name)>") }
        return c.text.trimmingSpaces()
    }

    private static func int(_ e: MiniXML.Element, _ name: String) throws -> Int {
        let v = try numbers(e.child(name), name)
        guard v.count == 1, let i = Int(exactly: v[0]) else { throw ReadFault("<\(name)> is not an integer") }
        return i
    }

    /// Whitespace-separated numbers, parsed as OpenCV's FileStorage does (C strtod).
    static func numbers(_ e: MiniXML.Element?, _ what: String) throws -> [Double] {
        guard let e else { throw ReadFault("missing \(what)") }
        guard e.text.utf8.count <= 1 << 20 else { throw ReadFault("\(what) is too long") }
        return try e.text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).map { token in
            let value: Double? = String(token).withCString { s in
                var end: UnsafeMutablePointer<CChar>?
                let v = strtod(s, &end)
                return end != nil && end!.pointee == 0 && end! != UnsafeMutablePointer(mutating: s) ? v : nil
            }
            guard let v = value, v.isFinite else { throw ReadFault("\(what) holds '\(token.prefix(32))', not a number") }
            return v
        }
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
