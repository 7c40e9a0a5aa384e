/// How ``RedisStatusTracker`` makes a merge atomic on the server.
///
/// Both were measured (Docs/Redis.md); only ``optimisticTransaction`` loses
/// nothing, so it is the one the public initialisers use.
@_spi(Benchmarks)
public enum RedisStatusMergeStrategy: Sendable, Hashable {
    /// Merge in Swift with ``/ScaleKit/JSONMergePatch`` (exactly the
    /// in-memory tracker's semantics) into the value this tracker last wrote
    /// (or read with `GET`), then store it with a compare-and-set script
    /// that writes only if the stored value is still that one; when another
    /// writer got there first the script returns the value it found and the
    /// merge is done again on it, at most `maxAttempts` times. One round trip
    /// per attempt when the value is known, two the first time.
    case optimisticTransaction(maxAttempts: Int)
    /// One Lua script that merges with Redis's cjson. One round trip and no
    /// retries, but lossy: cjson keeps only 14 significant digits of a number
    /// and turns an empty array into `{}`. Kept for measurement only.
    case luaCJSON
}

/// The server-side scripts of the status tracker.
enum RedisStatusScripts {
    /// Stores a status only if the stored one is the value the caller merged
    /// into. Lua compares the bytes and never parses the JSON, so nothing is
    /// lost to cjson.
    ///
    /// KEYS: the status key. ARGV: `absent` or `value`, the expected value,
    /// the new value, TTL (ms).
    /// Returns 1 when stored; otherwise `{0}` (no status stored) or `{0, current}`.
    static let compareAndSet = RedisScript(
        """
        local current = redis.call('GET', KEYS[1])
        local matches
        if ARGV[1] == 'absent' then matches = (current == false) else matches = (current == ARGV[2]) end
        if matches then
          redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
          return 1
        end
        if current == false then return {0} end
        return {0, current}
        """)

    /// The script of ``RedisStatusMergeStrategy/luaCJSON``.
    /// KEYS: the status key. ARGV: patch JSON, updated_at, TTL (ms), maximum encoded size.
    /// Returns the merged document, or an error reply starting with `TOOBIG`.
    static let mergeWithCJSON = RedisScript(
        """
        local function is_object(value)
          if type(value) ~= 'table' then return false end
          for key in pairs(value) do return type(key) == 'string' end
          return true
        end
        local function apply(patch, target)
          if not is_object(patch) then return patch end
          if not is_object(target) then target = {} end
          for key, value in pairs(patch) do
            if value == cjson.null then target[key] = nil else target[key] = apply(value, target[key]) end
          end
          return target
        end
        local current = redis.call('GET', KEYS[1])
        local document = apply(cjson.decode(ARGV[1]), current and cjson.decode(current) or {})
        document['updated_at'] = ARGV[2]
        local encoded = cjson.encode(document)
        if #encoded > tonumber(ARGV[4]) then
          return redis.error_reply('TOOBIG merged status is ' .. #encoded .. ' bytes')
        end
        redis.call('SET', KEYS[1], encoded, 'PX', ARGV[3])
        return encoded
        """)
}
