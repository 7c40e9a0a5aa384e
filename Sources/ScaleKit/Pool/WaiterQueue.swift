/// A FIFO queue with removal from the middle (for cancellation and timeouts).
///
/// An array with a moving head: appending and popping are O(1) amortized;
/// removing by predicate is O(n), fine for the tens of waiters a pool has.
struct WaiterQueue<Element> {
    private var storage: [Element?] = []
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element) {
        storage.append(element)
        count += 1
    }

    mutating func popFirst() -> Element? {
        while head < storage.count {
            let element = storage[head]
            storage[head] = nil
            head += 1
            if let element {
                count -= 1
                compactIfNeeded()
                return element
            }
        }
        return nil
    }

    /// Removes and returns the first element matching `predicate`.
    mutating func removeFirst(where predicate: (Element) -> Bool) -> Element? {
        for index in head..<storage.count {
            if let element = storage[index], predicate(element) {
                storage[index] = nil
                count -= 1
                compactIfNeeded()
                return element
            }
        }
        return nil
    }

    /// Removes and returns every element matching `predicate`, in queue order.
    mutating func removeAll(where predicate: (Element) -> Bool) -> [Element] {
        var removed: [Element] = []
        for index in head..<storage.count {
            if let element = storage[index], predicate(element) {
                storage[index] = nil
                removed.append(element)
            }
        }
        count -= removed.count
        compactIfNeeded()
        return removed
    }

    /// The first element (in queue order) matching `predicate`.
    func first(where predicate: (Element) -> Bool) -> Element? {
        for index in head..<storage.count {
            if let element = storage[index], predicate(element) { return element }
        }
        return nil
    }

    /// The smallest `key` of any element, or `nil` when empty.
    func minimum<Key: Comparable>(of key: (Element) -> Key) -> Key? {
        var result: Key?
        for index in head..<storage.count {
            if let element = storage[index] {
                let value = key(element)
                if result == nil || value < result! { result = value }
            }
        }
        return result
    }

    /// Drops the consumed prefix and holes once they outweigh live elements.
    private mutating func compactIfNeeded() {
        if count == 0 {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if storage.count > 32 && storage.count > 2 * count {
            storage = storage[head...].filter { $0 != nil }
            head = 0
        }
    }
}

extension WaiterQueue: Sendable where Element: Sendable {}
