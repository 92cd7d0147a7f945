/// GNU libstdc++'s `std::sort` of indices by key (`keys[a] < keys[b]`), step
/// for step: introsort with the median of three moved to the front, an
/// unguarded partition, heapsort past 2·lg(n) levels, then insertion sort
/// over runs of 16. x86-simd-sort falls back to it (`NumpyArgsort`), and
/// since it is not stable either, which tie lands first is its own.
struct LibstdcxxSort {
    let keys: UnsafeBufferPointer<Double>
    let arg: UnsafeMutableBufferPointer<Int>

    private func less(_ a: Int, _ b: Int) -> Bool { keys[a] < keys[b] }
    private func lessAt(_ i: Int, _ j: Int) -> Bool { keys[arg[i]] < keys[arg[j]] }

    /// `std::sort(arg + first, arg + last)`.
    func sort(_ first: Int, _ last: Int) {
        guard first != last else { return }
        introsort(first, last, depth: 2 * (Int.bitWidth - 1 - (last - first).leadingZeroBitCount))
        if last - first > 16 {
            insertionSort(first, first + 16)
            for i in first + 16..<last { linearInsert(i) }
        } else {
            insertionSort(first, last)
        }
    }

    private func introsort(_ first: Int, _ end: Int, depth d: Int) {
        var last = end, depth = d
        while last - first > 16 {
            if depth == 0 {
                heapsort(first, last)
                return
            }
            depth -= 1
            let cut = partitionAroundMedian(first, last)
            introsort(cut, last, depth: depth)
            last = cut
        }
    }

    private func partitionAroundMedian(_ first: Int, _ last: Int) -> Int {
        let a = first + 1, b = first + (last - first) / 2, c = last - 1
        let median: Int
        if lessAt(a, b) {
            median = lessAt(b, c) ? b : (lessAt(a, c) ? c : a)
        } else {
            median = lessAt(a, c) ? a : (lessAt(b, c) ? c : b)
        }
        arg.swapAt(first, median)
        // The unguarded partition of first+1..<last around arg[first].
        var lo = first + 1, hi = last
        while true {
            while lessAt(lo, first) { lo += 1 }
            hi -= 1
            while lessAt(first, hi) { hi -= 1 }
            if !(lo < hi) { return lo }
            arg.swapAt(lo, hi)
            lo += 1
        }
    }

    private func insertionSort(_ first: Int, _ last: Int) {
        guard first != last else { return }
        for i in first + 1..<last {
            if lessAt(i, first) {
                let v = arg[i]
                var j = i
                while j > first { arg[j] = arg[j - 1]; j -= 1 }
                arg[first] = v
            } else {
                linearInsert(i)
            }
        }
    }

    /// `__unguarded_linear_insert`: a smaller element is known to lie before.
    private func linearInsert(_ at: Int) {
        let v = arg[at]
        var last = at, next = at - 1
        while less(v, arg[next]) {
            arg[last] = arg[next]
            last = next
            next -= 1
        }
        arg[last] = v
    }

    // MARK: heapsort (`__partial_sort(first, last, last)`)

    private func heapsort(_ first: Int, _ last: Int) {
        let len = last - first
        if len >= 2 {
            var parent = (len - 2) / 2
            while true {
                adjustHeap(first, hole: parent, len: len, value: arg[first + parent])
                if parent == 0 { break }
                parent -= 1
            }
        }
        var end = last
        while end - first > 1 {
            end -= 1
            let v = arg[end]
            arg[end] = arg[first]
            adjustHeap(first, hole: 0, len: end - first, value: v)
        }
    }

    private func adjustHeap(_ first: Int, hole h: Int, len: Int, value: Int) {
        var hole = h, child = h
        let top = h
        while child < (len - 1) / 2 {
            child = 2 * (child + 1)
            if lessAt(first + child, first + child - 1) { child -= 1 }
            arg[first + hole] = arg[first + child]
            hole = child
        }
        if len & 1 == 0 && child == (len - 2) / 2 {
            child = 2 * (child + 1)
            arg[first + hole] = arg[first + child - 1]
            hole = child - 1
        }
        var parent = (hole - 1) / 2
        while hole > top && less(arg[first + parent], value) {
            arg[first + hole] = arg[first + parent]
            hole = parent
            parent = (hole - 1) / 2
        }
        arg[first + hole] = value
    }
}
