import FacecDetect
import FacecSearchKernels

/// Where a gallery lives: an SQLite file (embedded, the default) or a
/// PostgreSQL database with pgvector (`postgresql://` or `postgres://` URL).
public protocol GalleryStore: AnyObject {
    /// The file path or URL (without a password), for messages.
    var location: String { get }
    var model: GalleryModel { get }
    /// Every stored photo by path.
    func photoStates() throws -> [String: PhotoState]
    /// Stores whole photos in one transaction, replacing any stored photo of
    /// the same path: a crash leaves all of them or none.
    func put(_ photos: [PhotoRecord]) throws
    /// Removes photos by exact path; returns how many were stored.
    @discardableResult func remove(paths: [String]) throws -> Int
    /// Every face (for exact search in memory), in insertion order.
    func loadFaces() throws -> FaceMatrix
    /// Photos and their faces' areas, for `gallery list`.
    func listing() throws -> [(path: String, person: String, faces: [FacialArea])]
    func stats() throws -> GalleryStats
}

public enum Gallery {
    public static func isPostgres(_ location: String) -> Bool {
        location.hasPrefix("postgresql://") || location.hasPrefix("postgres://")
    }

    /// Opens an existing gallery, or creates it for `model` when `create` is
    /// set; refuses a gallery built with another model.
    public static func open(_ location: String, model: GalleryModel?, create: Bool) throws -> any GalleryStore {
        if isPostgres(location) { return try PostgresGallery(url: location, model: model, create: create) }
        return try SQLiteGallery(path: location, model: model, create: create)
    }
}
