/// The server-side scripts of ``RedisAPITracker``.
enum RedisAPITrackerScripts {
    /// Checks both limits and, when neither is reached, increments both
    /// counters, gives each its expiry if it has none (so no counter is ever
    /// left without a TTL, even one created by another client), and counts
    /// the call in the totals; a denied call only bumps `denied_requests`.
    /// All in one script, so it is atomic on the server.
    ///
    /// Redis does not roll a script back when a command in it fails, so every
    /// value the writes depend on is read and checked first: a counter or
    /// stats field that is not a whole number of at most 15 digits (exact in
    /// Lua's doubles) fails the script with `CORRUPT <name> …` before the
    /// first write, and a failed call is never counted.
    ///
    /// KEYS: day counter, hour counter, stats hash.
    /// ARGV: daily limit, hourly limit, day TTL (s), hour TTL (s).
    /// Returns: {denied_by (0 none, 1 day, 2 hour), day, hour, total, successful, failed, denied}.
    static let checkAndCount = RedisScript(
        """
        local totals = redis.call('HMGET', KEYS[3], 'total_requests', 'successful_requests', 'failed_requests', 'denied_requests')
        local raw = {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), totals[1], totals[2], totals[3], totals[4]}
        local names = {'the day counter', 'the hour counter', 'total_requests', 'successful_requests', 'failed_requests', 'denied_requests'}
        local n = {}
        for i = 1, 6 do
          local v = raw[i]
          if v == false then
            n[i] = 0
          elseif type(v) == 'string' and string.len(v) <= 15 and string.match(v, '^%d+$') then
            n[i] = tonumber(v)
          else
            return redis.error_reply('CORRUPT ' .. names[i] .. ' is not a whole number within 0..999999999999999')
          end
        end
        local denied_by = 0
        if n[1] >= tonumber(ARGV[1]) then
          denied_by = 1
        elseif n[2] >= tonumber(ARGV[2]) then
          denied_by = 2
        end
        if denied_by == 0 then
          n[1] = redis.call('INCR', KEYS[1])
          if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
          n[2] = redis.call('INCR', KEYS[2])
          if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
          n[3] = redis.call('HINCRBY', KEYS[3], 'total_requests', 1)
        else
          n[6] = redis.call('HINCRBY', KEYS[3], 'denied_requests', 1)
        end
        return {denied_by, n[1], n[2], n[3], n[4], n[5], n[6]}
        """)
}
