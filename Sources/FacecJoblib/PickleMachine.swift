import FacecCore

/// What the pickle subset can build. Lists, dicts and dtypes are boxes: the
/// pickle memoizes an object and mutates it afterwards (APPENDS, BUILD), and
/// a later BINGET must see the mutation.
indirect enum PickleValue {
    case none, bool(Bool), int(Int), string(String)
    /// A Python name (`module.name`) from the allowed three.
    case global(String)
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case dtype(PickleDType)
    /// A NumpyArrayWrapper before its BUILD.
    case wrapper
    case array(JoblibArrays.Array)

    var noun: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int: return "an int"
        case .string: return "a string"
        case .global(let name): return "the name \(name)"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        case .dtype: return "a numpy dtype"
        case .wrapper: return "an unfinished array"
        case .array: return "an array"
        }
    }
}

final class PickleList { var items: [PickleValue] = [] }
final class PickleDict { var items: [(key: String, value: PickleValue)] = [] }
final class PickleDType {
    let code: String
    var byteOrder = "="
    init(code: String) { self.code = code }
}

/// The pickle interpreter for joblib's numpy arrays: a stack machine over the
/// inflated bytes, every read bounded by what remains, the stack, the memo
/// and the marks bounded in size, only these opcodes (protocols 2–5):
/// PROTO FRAME STOP MARK EMPTY_LIST EMPTY_DICT EMPTY_TUPLE TUPLE TUPLE1-3
/// APPEND(S) SETITEM(S) MEMOIZE BINPUT LONG_BINPUT BINGET LONG_BINGET
/// SHORT_BINUNICODE BINUNICODE BININT BININT1 BININT2 LONG1 NONE NEWTRUE
/// NEWFALSE GLOBAL STACK_GLOBAL NEWOBJ REDUCE BUILD.
struct PickleMachine {
    private let bytes: [UInt8]
    private var offset = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    static let maxStack = 100_000, maxMemo = 100_000, maxMarks = 10_000, maxString = 1024, maxRank = 8
    static let allowedGlobals: Set<String> = ["joblib.numpy_pickle.NumpyArrayWrapper", "numpy.ndarray", "numpy.dtype"]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Runs to STOP and returns the value on the stack.
    mutating func run() throws(ReadFault) -> PickleValue {
        while true {
            let at = offset
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                   // PROTO n
            case 0x95:                                                  // FRAME length: a hint only
                let length = try unsigned(8)
                guard length <= remaining else { throw fault(at, "a frame of \(length) bytes with \(remaining) left") }
            case 0x2E:                                                  // STOP
                guard stack.count == 1, marks.isEmpty else { throw fault(at, "STOP with \(stack.count) values on the stack") }
                guard offset == bytes.count else { throw fault(at, "\(remaining) bytes follow STOP") }
                return stack[0]
            case 0x28:                                                  // MARK
                guard marks.count < Self.maxMarks else { throw fault(at, "more than \(Self.maxMarks) open marks") }
                marks.append(stack.count)
            case 0x5D: try push(.list(PickleList()), at)                // EMPTY_LIST
            case 0x7D: try push(.dict(PickleDict()), at)                // EMPTY_DICT
            case 0x29: try push(.tuple([]), at)                         // EMPTY_TUPLE
            case 0x74: try push(.tuple(try popToMark(at)), at)          // TUPLE
            case 0x85, 0x86, 0x87:                                      // TUPLE1...3
                let n = Int(op - 0x84)
                guard stack.count >= n else { throw fault(at, "a \(n)-tuple of \(stack.count) values") }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                try push(.tuple(items), at)
            case 0x61:                                                  // APPEND
                let item = try pop(at)
                try list(at).items.append(item)
            case 0x65:                                                  // APPENDS
                let items = try popToMark(at)
                try list(at).items.append(contentsOf: items)
            case 0x73:                                                  // SETITEM
                let value = try pop(at), name = try pop(at)
                try dict(at).items.append((try key(name, at), value))
            case 0x75:                                                  // SETITEMS
                let items = try popToMark(at)
                guard items.count % 2 == 0 else { throw fault(at, "SETITEMS with an odd number of values") }
                let d = try dict(at)
                for i in stride(from: 0, to: items.count, by: 2) { d.items.append((try key(items[i], at), items[i + 1])) }
            case 0x94: try remember(memo.count, at)                     // MEMOIZE
            case 0x71: try remember(try unsigned(1), at)                // BINPUT
            case 0x72: try remember(try unsigned(4), at)                // LONG_BINPUT
            case 0x68, 0x6A:                                            // BINGET, LONG_BINGET
                let index = try unsigned(op == 0x68 ? 1 : 4)
                guard let value = memo[index] else { throw fault(at, "memo entry \(index) was never stored") }
                try push(value, at)
            case 0x8C: try push(.string(try text(try unsigned(1), at)), at)   // SHORT_BINUNICODE
            case 0x58: try push(.string(try text(try unsigned(4), at)), at)   // BINUNICODE
            case 0x4B: try push(.int(try unsigned(1)), at)              // BININT1
            case 0x4D: try push(.int(try unsigned(2)), at)              // BININT2
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try unsigned(4)))), at)   // BININT
            case 0x8A:                                                  // LONG1
                let n = try unsigned(1)
                guard n <= 8 else { throw fault(at, "an integer of \(n) bytes") }
                let bits = try raw(n), shift = UInt64(64 - 8 * n)
                try push(.int(n == 0 ? 0 : Int(Int64(bitPattern: bits << shift) >> Int64(shift))), at)
            case 0x4E: try push(.none, at)                              // NONE
            case 0x88: try push(.bool(true), at)                        // NEWTRUE
            case 0x89: try push(.bool(false), at)                       // NEWFALSE
            case 0x63:                                                  // GLOBAL "module\nname\n"
                let module = try line(at), name = try line(at)
                try push(try global(module, name, at), at)
            case 0x93:                                                  // STACK_GLOBAL
                guard case .string(let name) = try pop(at), case .string(let module) = try pop(at) else {
                    throw fault(at, "STACK_GLOBAL without two strings")
                }
                try push(try global(module, name, at), at)
            case 0x81:                                                  // NEWOBJ cls args
                let args = try pop(at), cls = try pop(at)
                guard case .global("joblib.numpy_pickle.NumpyArrayWrapper") = cls, case .tuple(let a) = args, a.isEmpty else {
                    throw fault(at, "NEWOBJ of \(cls.noun) (only joblib's NumpyArrayWrapper())")
                }
                try push(.wrapper, at)
            case 0x52:                                                  // REDUCE callable args
                let args = try pop(at), callable = try pop(at)
                guard case .global("numpy.dtype") = callable, case .tuple(let a) = args, a.count == 3, case .string(let code) = a[0] else {
                    throw fault(at, "a call of \(callable.noun) (only numpy.dtype(code, False, True))")
                }
                try push(.dtype(PickleDType(code: code)), at)
            case 0x62: try build(at)                                    // BUILD
            default:
                throw fault(at, "opcode 0x\(String(op, radix: 16)), which joblib's numpy arrays do not use")
            }
        }
    }

    // MARK: objects

    /// BUILD: a dtype's state (its byte order), or a wrapper's, after which
    /// the array's bytes follow in the stream.
    private mutating func build(_ at: Int) throws(ReadFault) {
        let state = try pop(at)
        guard let target = stack.last else { throw fault(at, "BUILD on an empty stack") }
        switch target {
        case .dtype(let d):
            guard case .tuple(let s) = state, s.count >= 2, case .string(let order) = s[1] else {
                throw fault(at, "a dtype state that is \(state.noun)")
            }
            d.byteOrder = order
        case .wrapper:
            guard case .dict(let fields) = state else { throw fault(at, "an array state that is \(state.noun)") }
            stack[stack.count - 1] = .array(try readArray(fields, at))
        default:
            throw fault(at, "BUILD on \(target.noun)")
        }
    }

    private mutating func readArray(_ fields: PickleDict, _ at: Int) throws(ReadFault) -> JoblibArrays.Array {
        func field(_ name: String) -> PickleValue? { fields.items.last { $0.key == name }?.value }
        guard case .global("numpy.ndarray")? = field("subclass") else { throw fault(at, "an array whose class is not numpy.ndarray") }
        guard case .dtype(let dtype)? = field("dtype") else { throw fault(at, "an array without a dtype") }
        guard dtype.code == "f4", dtype.byteOrder == "<" || dtype.byteOrder == "=" else {
            throw fault(at, "an array of dtype \(dtype.byteOrder)\(dtype.code) (float32 little-endian expected)")
        }
        guard case .string("C")? = field("order") else { throw fault(at, "an array not in C order") }
        guard case .tuple(let dims)? = field("shape"), dims.count <= Self.maxRank else {
            throw fault(at, "an array without a shape of rank ≤ \(Self.maxRank)")
        }
        var shape: [Int] = [], count = 1
        for d in dims {
            guard case .int(let n) = d, n >= 0 else { throw fault(at, "an array dimension that is not a count") }
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow, product <= remaining / 4 else {
                let text = dims.map { d -> String in if case .int(let n) = d { return String(n) } else { return "?" } }
                throw fault(at, "an array of shape (\(text.joined(separator: ", "))) with \(remaining) bytes left")
            }
            shape.append(n); count = product
        }
        if let alignment = field("numpy_array_alignment_bytes"), case .int = alignment {
            let padding = try unsigned(1)
            try skip(padding, "the array's padding", at)
        }
        guard count * 4 <= remaining else { throw fault(at, "an array of \(count) floats with \(remaining) bytes left") }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + count * 4)])) }
        }
        #if _endian(big)
        values = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
        #endif
        offset += count * 4
        return JoblibArrays.Array(shape: shape, values: values)
    }

    private func global(_ module: String, _ name: String, _ at: Int) throws(ReadFault) -> PickleValue {
        let full = module + "." + name
        guard Self.allowedGlobals.contains(full) else {
            throw fault(at, "the Python name '\(oneLine(full))' (only joblib's numpy arrays are read)")
        }
        return .global(full)
    }

    private func key(_ v: PickleValue, _ at: Int) throws(ReadFault) -> String {
        guard case .string(let s) = v else { throw fault(at, "a dict key that is \(v.noun)") }
        return s
    }

    private func list(_ at: Int) throws(ReadFault) -> PickleList {
        guard case .list(let l)? = stack.last else { throw fault(at, "APPEND to \(stack.last?.noun ?? "nothing")") }
        return l
    }

    private func dict(_ at: Int) throws(ReadFault) -> PickleDict {
        guard case .dict(let d)? = stack.last else { throw fault(at, "SETITEM on \(stack.last?.noun ?? "nothing")") }
        return d
    }

    // MARK: stack and memo

    private mutating func push(_ v: PickleValue, _ at: Int) throws(ReadFault) {
        guard stack.count < Self.maxStack else { throw fault(at, "more than \(Self.maxStack) values on the stack") }
        stack.append(v)
    }

    private mutating func pop(_ at: Int) throws(ReadFault) -> PickleValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw fault(at, "a value taken from an empty stack") }
        return v
    }

    private mutating func popToMark(_ at: Int) throws(ReadFault) -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw fault(at, "no open mark") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func remember(_ index: Int, _ at: Int) throws(ReadFault) {
        guard let top = stack.last else { throw fault(at, "memoizing an empty stack") }
        guard memo.count < Self.maxMemo || memo[index] != nil else { throw fault(at, "more than \(Self.maxMemo) memo entries") }
        memo[index] = top
    }

    // MARK: bytes

    private var remaining: Int { bytes.count - offset }

    private mutating func byte() throws(ReadFault) -> UInt8 {
        guard offset < bytes.count else { throw ReadFault("the pickle ends without STOP (at byte \(offset))") }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The `n` ≤ 8 little-endian bytes of an operand.
    private mutating func raw(_ n: Int) throws(ReadFault) -> UInt64 {
        guard remaining >= n else { throw ReadFault("the pickle ends inside an operand (at byte \(offset))") }
        var v: UInt64 = 0
        for i in (0..<n).reversed() { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += n
        return v
    }

    /// A little-endian unsigned integer of `n` ≤ 8 bytes (at most Int.max).
    private mutating func unsigned(_ n: Int) throws(ReadFault) -> Int {
        let v = try raw(n)
        guard v <= UInt64(Int.max) else { throw ReadFault("an operand out of range at byte \(offset - n)") }
        return Int(v)
    }

    private mutating func skip(_ n: Int, _ what: String, _ at: Int) throws(ReadFault) {
        guard n <= remaining else { throw fault(at, "\(what) of \(n) bytes with \(remaining) left") }
        offset += n
    }

    private mutating func text(_ length: Int, _ at: Int) throws(ReadFault) -> String {
        guard length <= Self.maxString else { throw fault(at, "a string of \(length) bytes") }
        guard length <= remaining else { throw ReadFault("the pickle ends inside a string (at byte \(at))") }
        defer { offset += length }
        return String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
    }

    /// GLOBAL's operands: text up to a newline.
    private mutating func line(_ at: Int) throws(ReadFault) -> String {
        guard let end = bytes[offset...].prefix(Self.maxString).firstIndex(of: 0x0A) else {
            throw fault(at, "a GLOBAL name without its newline")
        }
        defer { offset = end + 1 }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }

    private func fault(_ at: Int, _ what: String) -> ReadFault { ReadFault("byte \(at) of the pickle: \(what)") }
}
