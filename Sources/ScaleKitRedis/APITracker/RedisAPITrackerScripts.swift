/// The server-side scripts of ``RedisAPITracker``: every operation on a
/// quota is one script call, atomic on the server, touching only keys under
/// that quota's hash tag (one Redis Cluster slot).
///
/// Redis does not roll a script back when a command in it fails, so every
/// stored value a decision depends on is read and checked first: a counter,
/// bucket or stats field that is not a whole number of at most 15 digits
/// (exact in Lua's doubles) fails the script with `CORRUPT <name> …`
/// before its first write, and a refused call is never counted.
enum RedisAPITrackerScripts {
    /// Shared Lua helpers: `whole` reads a stored count (nil when corrupt),
    /// `giveback` subtracts a receipt's cost from its counters and buckets
    /// without ever going below zero.
    static let helpers = """
        local function whole(v)
          if v == false or v == nil then return 0 end
          if type(v) == 'string' and string.len(v) <= 15 and string.match(v, '^%d+$') then return tonumber(v) end
          return nil
        end
        local function corrupt(name)
          return redis.error_reply('CORRUPT ' .. name .. ' is not a whole number within 0..999999999999999')
        end
        local function giveback(r)
          for j = 1, #r.k do
            local key, bucket = r.k[j], r.b[j]
            if bucket == '' then
              local v = whole(redis.call('GET', key))
              if v ~= nil and v > 0 then
                if v > r.c then redis.call('DECRBY', key, r.c) else redis.call('SET', key, '0', 'KEEPTTL') end
              end
            else
              local v = whole(redis.call('HGET', key, bucket))
              if v ~= nil and v > 0 then
                if v > r.c then redis.call('HINCRBY', key, bucket, -r.c) else redis.call('HDEL', key, bucket) end
              end
            end
          end
        end
        local function clock(arg)
          if arg ~= '' then return tonumber(arg) end
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function release_due(zset, data, settled_prefix, settled_ttl, now)
          local released = 0
          for _, id in ipairs(redis.call('ZRANGEBYSCORE', zset, '-inf', now, 'LIMIT', 0, 64)) do
            redis.call('ZREM', zset, id)
            local payload = redis.call('HGET', data, id)
            redis.call('HDEL', data, id)
            if payload and redis.call('SET', settled_prefix .. id, '1', 'NX', 'EX', settled_ttl) then
              local ok, r = pcall(cjson.decode, payload)
              if ok and type(r) == 'table' and type(r.k) == 'table' and type(r.b) == 'table' and type(r.c) == 'number' then
                giveback(r)
                released = released + 1
              end
            end
          end
          return released
        end

        """

    /// Checks every limit of a quota and, when the cost fits in all, counts
    /// it in all (mode `check`), also holding it as a reservation (`reserve`);
    /// or only reads (`usage`). Releases reservations past their expiry first.
    ///
    /// KEYS: stats hash, reservations sorted set, reservation data hash, then one key per limit.
    /// ARGV: mode, cost, clock ms (`''`: the server's TIME), hold ms, receipt id,
    /// settled-key prefix, settled TTL (s), limit count n, then per limit:
    /// kind (`c` calendar, `r` rolling), limit, TTL s (calendar) or length ms (rolling),
    /// bucket width ms (rolling) or window start ms (calendar; `-`: not checked), window end ms (calendar).
    /// Returns: {allowed (1, 0), now, total, denied, successful, failed, refunded,
    /// then per limit: used, retry (-2 not refusing, -1 never fits, else ms), newest bucket (-1 none)}.
    /// Fails with `WINDOW <now ms>`, before anything is written, when `now` is
    /// outside a calendar window the caller named: the caller's clock is off
    /// the server's, and it asks again, unchecked, with the windows of that instant.
    static let checkAndCount = RedisScript(
        helpers + """
        local mode, cost, now = ARGV[1], tonumber(ARGV[2]), clock(ARGV[3])
        local n = tonumber(ARGV[8])
        for i = 1, n do
          local a = 8 + (i - 1) * 5
          if ARGV[a + 1] == 'c' and ARGV[a + 4] ~= '-' and (now < tonumber(ARGV[a + 4]) or now >= tonumber(ARGV[a + 5])) then
            return redis.error_reply('WINDOW ' .. string.format('%.0f', now))
          end
        end
        local released = release_due(KEYS[2], KEYS[3], ARGV[6], ARGV[7], now)
        if released > 0 then redis.call('HINCRBY', KEYS[1], 'refunded_requests', released) end
        local fields = {'total_requests', 'denied_requests', 'successful_requests', 'failed_requests', 'refunded_requests'}
        local raw = redis.call('HMGET', KEYS[1], unpack(fields))
        local totals = {}
        for i = 1, 5 do
          totals[i] = whole(raw[i])
          if totals[i] == nil then return corrupt(fields[i]) end
        end
        local used, counted, stale, newest = {}, {}, {}, {}
        for i = 1, n do
          local a, key = 8 + (i - 1) * 5, KEYS[3 + i]
          newest[i] = -1
          if ARGV[a + 1] == 'c' then
            used[i] = whole(redis.call('GET', key))
            if used[i] == nil then return corrupt('the counter ' .. key) end
          else
            local len, width = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
            local oldest, ahead = math.floor((now - len) / width), math.floor(now / width) + 120
            local flat = redis.call('HGETALL', key)
            local list, old, sum = {}, {}, 0
            for j = 1, #flat, 2 do
              local index, count = tonumber(flat[j]), whole(flat[j + 1])
              if count == nil then return corrupt('a bucket of ' .. key) end
              if index ~= nil and index >= oldest and index <= ahead then
                sum = sum + count
                list[#list + 1] = {index, count}
                if index > newest[i] then newest[i] = index end
              else
                old[#old + 1] = flat[j]
              end
            end
            table.sort(list, function(x, y) return x[1] < y[1] end)
            used[i], counted[i], stale[i] = sum, list, old
          end
        end
        local retry, refused = {}, false
        for i = 1, n do
          local a = 8 + (i - 1) * 5
          local limit = tonumber(ARGV[a + 2])
          retry[i] = -2
          if mode ~= 'usage' and cost > limit - used[i] then
            refused = true
            retry[i] = -1
            if cost <= limit then
              if ARGV[a + 1] == 'c' then
                retry[i] = tonumber(ARGV[a + 5])
              else
                local need, freed = used[i] + cost - limit, 0
                local len, width = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
                for _, b in ipairs(counted[i]) do
                  freed = freed + b[2]
                  if freed >= need then retry[i] = (b[1] + 1) * width + len break end
                end
              end
            end
          end
        end
        local allowed = 0
        if mode ~= 'usage' then
          if refused then
            totals[2] = redis.call('HINCRBY', KEYS[1], 'denied_requests', 1)
          else
            allowed = 1
            local buckets = {}
            for i = 1, n do
              local a, key = 8 + (i - 1) * 5, KEYS[3 + i]
              if ARGV[a + 1] == 'c' then
                used[i] = redis.call('INCRBY', key, cost)
                if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[a + 3]) end
                buckets[i] = ''
              else
                local len, width = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
                local bucket = math.floor(now / width)
                local field = string.format('%.0f', bucket)
                redis.call('HINCRBY', key, field, cost)
                for _, f in ipairs(stale[i]) do redis.call('HDEL', key, f) end
                redis.call('PEXPIRE', key, math.max(2 * len, 60000))
                used[i] = used[i] + cost
                if bucket > newest[i] then newest[i] = bucket end
                buckets[i] = field
              end
            end
            totals[1] = redis.call('HINCRBY', KEYS[1], 'total_requests', 1)
            if mode == 'reserve' then
              local keys = {}
              for i = 1, n do keys[i] = KEYS[3 + i] end
              local hold = tonumber(ARGV[4])
              redis.call('ZADD', KEYS[2], now + hold, ARGV[5])
              redis.call('HSET', KEYS[3], ARGV[5], cjson.encode({k = keys, b = buckets, c = cost}))
              local keep = hold + 1000 * tonumber(ARGV[7])
              for _, key in ipairs({KEYS[2], KEYS[3]}) do
                if redis.call('PTTL', key) < keep then redis.call('PEXPIRE', key, keep) end
              end
            end
          end
        end
        local reply = {allowed, now, totals[1], totals[2], totals[3], totals[4], totals[5]}
        for i = 1, n do
          reply[#reply + 1] = used[i]
          reply[#reply + 1] = retry[i]
          reply[#reply + 1] = newest[i]
        end
        return reply
        """)

    /// Gives a receipt's units back once: the settled key is set with `NX`;
    /// when it already exists, nothing changes.
    ///
    /// KEYS: stats hash, reservations sorted set, reservation data hash, settled key, then one key per limit.
    /// ARGV: cost, settled TTL (s), receipt id, then per limit the bucket (`''` for a calendar counter).
    /// Returns 1 when given back, 0 when already settled.
    static let refund = RedisScript(
        helpers + """
        if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[2]) then return 0 end
        redis.call('ZREM', KEYS[2], ARGV[3])
        redis.call('HDEL', KEYS[3], ARGV[3])
        local keys, buckets = {}, {}
        for i = 5, #KEYS do
          keys[#keys + 1] = KEYS[i]
          buckets[#buckets + 1] = ARGV[i - 1]
        end
        giveback({k = keys, b = buckets, c = tonumber(ARGV[1])})
        redis.call('HINCRBY', KEYS[1], 'refunded_requests', 1)
        return 1
        """)

    /// Keeps a reservation for good, or releases it if it is past its expiry.
    ///
    /// KEYS: stats hash, reservations sorted set, reservation data hash.
    /// ARGV: receipt id, clock ms (`''`: the server's TIME), settled-key prefix, settled TTL (s).
    /// Returns {1 confirmed or 0 not held (any more), now}.
    static let confirm = RedisScript(
        helpers + """
        local now = clock(ARGV[2])
        local released = release_due(KEYS[2], KEYS[3], ARGV[3], ARGV[4], now)
        if released > 0 then redis.call('HINCRBY', KEYS[1], 'refunded_requests', released) end
        if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
          redis.call('HDEL', KEYS[3], ARGV[1])
          return {1, now}
        end
        return {0, now}
        """)

    /// Sets one limit's current count (reconciliation with the provider).
    ///
    /// KEYS: the limit's key. ARGV: kind (`c`, `r`), used, TTL s (calendar) or length ms (rolling),
    /// bucket width ms, clock ms (`''`: the server's TIME).
    static let reconcile = RedisScript(
        helpers + """
        if ARGV[1] == 'c' then
          redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
          if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
        else
          local now = clock(ARGV[5])
          redis.call('DEL', KEYS[1])
          if tonumber(ARGV[2]) > 0 then
            redis.call('HSET', KEYS[1], string.format('%.0f', math.floor(now / tonumber(ARGV[4]))), ARGV[2])
            redis.call('PEXPIRE', KEYS[1], math.max(2 * tonumber(ARGV[3]), 60000))
          end
        end
        return 1
        """)
}
