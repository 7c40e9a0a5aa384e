/// The server-side scripts of ``RedisAPITracker``.
enum RedisAPITrackerScripts {
    /// Checks both limits and, when neither is reached, increments both
    /// counters, gives each its expiry if it has none (so no counter is ever
    /// left without a TTL, even one created by another client), and counts
    /// the call in the totals; a denied call only bumps `denied_requests`.
    /// All in one script, so it is atomic on the server.
    ///
    /// KEYS: day counter, hour counter, stats hash.
    /// ARGV: daily limit, hourly limit, day TTL (s), hour TTL (s).
    /// Returns: {denied_by (0 none, 1 day, 2 hour), day, hour, total, successful, failed, denied}.
    static let checkAndCount = RedisScript(
        """
        local day = tonumber(redis.call('GET', KEYS[1]) or '0')
        local hour = tonumber(redis.call('GET', KEYS[2]) or '0')
        local denied_by = 0
        if day >= tonumber(ARGV[1]) then
          denied_by = 1
        elseif hour >= tonumber(ARGV[2]) then
          denied_by = 2
        end
        if denied_by == 0 then
          day = redis.call('INCR', KEYS[1])
          if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
          hour = redis.call('INCR', KEYS[2])
          if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[4]) end
          redis.call('HINCRBY', KEYS[3], 'total_requests', 1)
        else
          redis.call('HINCRBY', KEYS[3], 'denied_requests', 1)
        end
        local totals = redis.call('HMGET', KEYS[3], 'total_requests', 'successful_requests', 'failed_requests', 'denied_requests')
        return {denied_by, day, hour, tonumber(totals[1] or '0'), tonumber(totals[2] or '0'),
                tonumber(totals[3] or '0'), tonumber(totals[4] or '0')}
        """)
}
