import FacecCore
import FacecDetect
import FacecDetectKernels
import FacecFormat
import FacecImage
import FacecRuntime
import FacecPipeline
#if canImport(Glibc)
import Glibc
#endif

struct DetectCommand: Command {
    static let spec = CommandSpec(
        name: "detect",
        abstract: "Find and align the faces in photos with the detector a model carries, without embeddings.",
        discussion: """
            One line per face in deepface's order (extract_faces with detector_backend="opencv", align=True): \
            the box, the eyes and the confidence; --json prints deepface's keys. --crops writes each aligned crop \
            (what the network sees, before resizing) as DIR/<photo>_face<N>.png.
            """,
        arguments: [.one("model", help: "A .fgraph model with a detector (convert --detector opencv|mtcnn)."),
                    .many("photos", help: "Photos (JPEG, PNG, WebP).")],
        options: [
            .flag(.json, help: "JSON lines: input, face_index, facial_area {x, y, w, h, left_eye, right_eye}, face_confidence[, crop]."),
            .option(.crops, help: "Directory to write the aligned crops to (created if missing)."),
            .flag(.noEnforceDetection, help: "A photo without a face gives the whole photo (deepface's enforce_detection=False) instead of an error."),
            .option(.threads, help: "Threads (default: all cores): photos in parallel, and one photo's face search split when there are fewer photos than threads."),
            .flag(.timing, help: "Add each photo's times to the JSON lines (decode, frame and grey, pyramid, cascade, eyes, alignment, total; ms)."),
        ])

    let model: String
    let photos: [String]
    let json: Bool
    let crops: String?
    let noEnforceDetection: Bool
    let threads: Int?
    let timing: Bool

    init(_ a: ParsedArguments) throws {
        model = a.argument("model")
        photos = a.arguments("photos")
        json = a.flag(.json)
        crops = a.string(.crops)
        noEnforceDetection = a.flag(.noEnforceDetection)
        threads = try a.threads()
        timing = a.flag(.timing)
        guard !photos.isEmpty else { throw FacecError(.usage, "", "give at least one photo") }
    }

    func run() throws {
        // The Haar cascades are in the header; MTCNN's weights are tensors.
        let header = try ModelFile(path: model, readData: false)
        let file = header.header.detector?.kind == "mtcnn" ? try ModelFile(path: model) : header
        guard let spec = file.header.detector else {
            throw FacecError(.noDetector, model, "the model carries no face detector (convert it with --detector opencv or mtcnn)")
        }
        let (photoWorkers, perPhoto) = threadSplit(threads: threads ?? systemCoreCount(), photos: photos.count)
        let detector = FaceDetector(spec, model: file, threads: perPhoto)
        let cropNames = Self.cropNames(photos)
        // Every crop is checked as an output; photos that crops would
        // overwrite are refused before any work.
        let inputs = Set(([model] + photos).compactMap { FileIdentity(path: $0) })
        if let crops {
            try Self.makeDirectory(crops)
            try Self.refuseCropsOverInputs(photos, cropNames: cropNames, directory: crops)
        }
        let photos = self.photos, enforce = !noEnforceDetection, timing = self.timing
        var failures = 0
        try ParallelInOrder.run(count: photos.count, threads: photoWorkers, state: { () }, work: { i, _ in
            Swift.Result { () throws -> ([DetectedFace], String?) in
                let start = monotonicSeconds()
                let image = try ImageDecoder.decodeFile(photos[i])
                let decodeMs = (monotonicSeconds() - start) * 1e3
                var times: DetectionTimings?
                let faces = try detector.extractFaces(image, path: photos[i], enforce: enforce, timings: timing ? { times = $0 } : nil)
                return (faces, times.map { Self.timingJSON($0, decodeMs: decodeMs, totalMs: (monotonicSeconds() - start) * 1e3) })
            }
        }) { i, result in
            switch result {
            case .failure(let error):
                failures += 1
                report(String(describing: error))
            case .success(let (faces, times)):
                for (k, face) in faces.enumerated() {
                    var cropPath: String?
                    if let crops {
                        let path = crops + "/" + cropNames[i] + "_face\(k).png"
                        try OutputFile.check(path, inputIdentities: inputs).write(try PNGEncoder.encode(face.crop))
                        cropPath = path
                    }
                    print(json || timing ? Self.json(photos[i], k, face, cropPath, times) : Self.text(photos[i], k, face, cropPath))
                }
                if faces.isEmpty, let times { print(JSONText.object([("input", JSONText.string(photos[i])), ("faces", "0"), ("timing_ms", times)])) }
                flushStandardOutput()
            }
        }
        if failures > 0 { throw ExitStatus(1) }
    }

    static func timingJSON(_ t: DetectionTimings, decodeMs: Double, totalMs: Double) -> String {
        JSONText.object([("decode", FaceJSON.milliseconds(decodeMs)), ("frame_gray", FaceJSON.milliseconds(t.frameAndGray)),
                         ("pyramid", FaceJSON.milliseconds(t.pyramid)), ("cascade", FaceJSON.milliseconds(t.cascade)),
                         ("eyes", FaceJSON.milliseconds(t.eyes)), ("alignment", FaceJSON.milliseconds(t.alignment)),
                         ("detection", FaceJSON.milliseconds(t.total)), ("total", FaceJSON.milliseconds(totalMs))])
    }

    static func json(_ input: String, _ k: Int, _ f: DetectedFace, _ crop: String?, _ times: String? = nil) -> String {
        var fields = [("input", JSONText.string(input)), ("face_index", "\(k)"), ("facial_area", FaceJSON.area(f.area)),
                      ("face_confidence", JSONText.number(f.confidence))]
        if let crop { fields.append(("crop", JSONText.string(crop))) }
        if let times { fields.append(("timing_ms", times)) }
        return JSONText.object(fields)
    }

    static func text(_ input: String, _ k: Int, _ f: DetectedFace, _ crop: String?) -> String {
        func point(_ p: PixelPoint?) -> String { p.map { "(\($0.x),\($0.y))" } ?? "-" }
        var line = "\(input)  face \(k)  x=\(f.x) y=\(f.y) w=\(f.width) h=\(f.height)  left_eye=\(point(f.leftEye)) right_eye=\(point(f.rightEye))  confidence=\(f.confidence)"
        if let crop { line += "  crop=\(crop)" }
        return line
    }

    /// A file stem per photo for its crops; photos with the same stem (from
    /// different directories) get -2, -3… so no crop overwrites another.
    static func cropNames(_ photos: [String]) -> [String] {
        var seen: [String: Int] = [:]
        return photos.map { p in
            let base = p.split(separator: "/").last.map(String.init) ?? p
            let stem = base.lastIndex(of: ".").map { String(base[..<$0]) }.flatMap { $0.isEmpty ? nil : $0 } ?? base
            let n = (seen[stem] ?? 0) + 1
            seen[stem] = n
            return n == 1 ? stem : "\(stem)-\(n)"
        }
    }

    /// A photo in the crops directory named as some photo's crop would be
    /// (`<stem>_face<N>.png`) would be overwritten, perhaps before it is read.
    static func refuseCropsOverInputs(_ photos: [String], cropNames: [String], directory: String) throws {
        guard let dir = FileIdentity(path: directory) else { return }
        let stems = Set(cropNames)
        for p in photos {
            let name = p.split(separator: "/").last.map(String.init) ?? p
            guard name.hasSuffix(".png") else { continue }
            let base = name.dropLast(4)
            let digits = base.reversed().prefix { $0.isASCII && $0.isNumber }.count
            let rest = base.dropLast(digits)
            guard digits > 0, rest.hasSuffix("_face"), stems.contains(String(rest.dropLast(5))),
                  FileIdentity(path: OutputFile.directory(of: p)) == dir else { continue }
            throw FacecError(.argument, p, "is an input and also where a crop would be written (--crops \(directory)); refusing to overwrite it")
        }
    }

    static func makeDirectory(_ path: String) throws {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else { throw FacecError(.argument, path, "exists and is not a directory") }
            return
        }
        guard mkdir(path, 0o755) == 0 else { throw FacecError(.io, path, "cannot create the directory: \(String(cString: strerror(errno)))") }
    }
}
