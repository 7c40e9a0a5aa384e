/// How ``RedisStatusTracker`` makes a merge atomic on the server.
///
/// Both were measured (Docs/Redis.md); only ``optimisticTransaction`` loses
/// nothing, so it is the one the public initialisers use.
@_spi(Benchmarks)
public enum RedisStatusMergeStrategy: Sendable, Hashable {
    /// `WATCH key` + `GET`, merge in Swift with ``/ScaleKit/JSONMergePatch``
    /// (exactly the in-memory tracker's semantics), then `MULTI` / `SET … PX` /
    /// `EXEC`; retried with a short jittered back-off when another writer got
    /// there first, at most `maxAttempts` times. Two round trips per attempt.
    case optimisticTransaction(maxAttempts: Int)
    /// One Lua script that merges with Redis's cjson. One round trip and no
    /// retries, but lossy: cjson keeps only 14 significant digits of a number
    /// and turns an empty array into `{}`. Kept for measurement only.
    case luaCJSON
}

/// The server-side script of ``RedisStatusMergeStrategy/luaCJSON``.
enum RedisStatusScripts {
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
