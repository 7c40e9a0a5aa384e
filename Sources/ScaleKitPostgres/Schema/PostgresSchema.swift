import ScaleKit

/// One step of the schema: applied once, in version order, recorded in
/// `<schema>.scalekit_schema_migrations`.
struct PostgresMigration: SchemaMigration {
    var version: Int
    var description: String
    /// The step's SQL for a schema name already quoted as an identifier.
    var sql: @Sendable (_ schema: String) -> String
}

/// Creates and upgrades ScaleKit's tables in one PostgreSQL schema.
///
/// Safe to run from any number of processes at once: the run is one
/// transaction that first takes a transaction-scoped advisory lock for the
/// schema (`pg_advisory_xact_lock`), so the others wait, then find every
/// version recorded and apply nothing. See Docs/Databases.md.
enum PostgresSchema {
    /// `'SKit'` as a 32-bit integer: the advisory lock's first key; the second is the schema's hash.
    static let advisoryLockKey: Int32 = 0x534B_6974

    static let migrations: [PostgresMigration] = [
        PostgresMigration(version: 1, description: "videos table and claim function") { schema in
            """
            CREATE TABLE \(schema).videos (
                video_id text PRIMARY KEY,
                title text,
                original_url text,
                state text NOT NULL CHECK (state IN ('processing', 'completed', 'failed')),
                attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                lease_owner text,
                lease_expires_at timestamptz,
                last_error text,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL
            );
            CREATE INDEX videos_by_update ON \(schema).videos (updated_at DESC, video_id COLLATE "C" DESC);
            CREATE INDEX videos_by_state_and_update
                ON \(schema).videos (state, updated_at DESC, video_id COLLATE "C" DESC);
            \(claimFunction(schema))
            """
        },
        // Version 1's function stays, so a worker of the previous release keeps
        // claiming during a rolling upgrade.
        PostgresMigration(version: 2, description: "database clock, attempts cap, backoff, abandoned, claim-next") { schema in
            """
            ALTER TABLE \(schema).videos DROP CONSTRAINT videos_state_check;
            ALTER TABLE \(schema).videos ADD CONSTRAINT videos_state_check
                CHECK (state IN ('pending', 'processing', 'completed', 'failed', 'abandoned'));
            ALTER TABLE \(schema).videos ADD COLUMN not_before timestamptz,
                ADD COLUMN errors jsonb NOT NULL DEFAULT '[]'::jsonb;
            UPDATE \(schema).videos SET not_before = updated_at WHERE state = 'failed';
            UPDATE \(schema).videos
            SET errors = jsonb_build_array(jsonb_build_object(
                'attempt', attempts, 'message', last_error, 'at', (extract(epoch FROM updated_at) * 1000000)::bigint))
            WHERE last_error IS NOT NULL;
            CREATE INDEX videos_claimable ON \(schema).videos ((COALESCE(not_before, lease_expires_at)), video_id COLLATE "C")
                WHERE state IN ('pending', 'failed', 'processing');
            CREATE FUNCTION \(schema).scalekit_push_error(p_errors jsonb, p_attempt integer, p_message text, p_at timestamptz)
            RETURNS jsonb LANGUAGE sql IMMUTABLE AS $push$
                SELECT COALESCE(jsonb_agg(e ORDER BY o), '[]'::jsonb) FROM (
                    SELECT e, o FROM jsonb_array_elements(p_errors || jsonb_build_array(jsonb_build_object(
                        'attempt', p_attempt, 'message', p_message,
                        'at', (extract(epoch FROM p_at) * 1000000)::bigint))) WITH ORDINALITY AS t(e, o)
                    ORDER BY o DESC LIMIT \(VideoAttemptError.historyLimit)) AS kept
            $push$;
            CREATE FUNCTION \(schema).scalekit_backoff(p_attempt integer, p_base_us bigint, p_max_us bigint)
            RETURNS interval LANGUAGE sql IMMUTABLE AS $backoff$
                SELECT LEAST(p_base_us::float8 * power(2::float8, LEAST(GREATEST(p_attempt - 1, 0), 40)), p_max_us::float8)::bigint
                       * interval '1 microsecond'
            $backoff$;
            \(claimFunction2(schema))
            """
        },
        // Additive: a worker of the previous release keeps sending its own
        // claim-next statement during a rolling upgrade.
        PostgresMigration(version: 3, description: "claim-next function") { schema in
            claimNextFunction(schema)
        },
    ]

    /// ``/ScaleKit/VideoRepository/claimNext(lease:)`` on the server: the
    /// earliest-due claimable video, locked with `FOR UPDATE SKIP LOCKED`
    /// (concurrent callers each take a different row; a row changed
    /// meanwhile is checked again against the WHERE on its new version) and
    /// claimed in the same statement. A function rather than the statement
    /// itself because PL/pgSQL plans the statement once per server
    /// connection: a caller behind PgBouncer, which must send unnamed
    /// statements, otherwise pays for planning the `UPDATE … FROM (SELECT …
    /// FOR UPDATE SKIP LOCKED)` on every call (Docs/Benchmarks.md). No row:
    /// nothing is due.
    static func claimNextFunction(_ schema: String) -> String {
        """
        CREATE FUNCTION \(schema).scalekit_claim_next(
            p_token text, p_lease_us bigint, p_max_attempts integer, p_now timestamptz)
        RETURNS TABLE (outcome text, video \(schema).videos)
        LANGUAGE plpgsql VOLATILE AS $claim_next$
        DECLARE
            v_now timestamptz := COALESCE(p_now, statement_timestamp());
        BEGIN
            RETURN QUERY
                WITH due AS (
                    SELECT n.video_id, n.state AS previous_state FROM \(schema).videos AS n
                    WHERE n.state IN ('pending', 'failed', 'processing')
                      AND COALESCE(n.not_before, n.lease_expires_at) <= v_now AND n.attempts < p_max_attempts
                    ORDER BY COALESCE(n.not_before, n.lease_expires_at), n.video_id COLLATE "C"
                    LIMIT 1 FOR UPDATE SKIP LOCKED)
                UPDATE \(schema).videos AS v
                SET state = 'processing', attempts = v.attempts + 1, lease_owner = p_token,
                    lease_expires_at = v_now + p_lease_us * interval '1 microsecond', not_before = NULL,
                    updated_at = v_now,
                    last_error = CASE WHEN due.previous_state = 'processing' THEN 'lease expired' ELSE v.last_error END,
                    errors = CASE WHEN due.previous_state = 'processing'
                                  THEN \(schema).scalekit_push_error(v.errors, v.attempts, 'lease expired', v_now)
                                  ELSE v.errors END
                FROM due WHERE v.video_id = due.video_id
                RETURNING CASE due.previous_state WHEN 'pending' THEN 'claimedPending'
                                                  WHEN 'failed' THEN 'retryingFailed'
                                                  ELSE 'tookOverExpiredLease' END, v;
        END
        $claim_next$;
        """
    }

    /// Version 2 of the claim decision (``/ScaleKit/ClaimRules``), one round trip.
    /// Every instant is the server's (`statement_timestamp()`) unless `p_now`
    /// is given (tests with a manual clock); the caller only says how long a
    /// lease it wants. Locking as in ``claimFunction(_:)``.
    static func claimFunction2(_ schema: String) -> String {
        """
        CREATE FUNCTION \(schema).scalekit_claim(
            p_video_id text, p_title text, p_original_url text, p_token text,
            p_now timestamptz, p_lease_us bigint, p_max_attempts integer)
        RETURNS TABLE (outcome text, video \(schema).videos)
        LANGUAGE plpgsql VOLATILE AS $claim$
        DECLARE
            v_now timestamptz := COALESCE(p_now, statement_timestamp());
            v_lease_end timestamptz := COALESCE(p_now, statement_timestamp()) + p_lease_us * interval '1 microsecond';
            previous \(schema).videos;
            decision text;
        BEGIN
            LOOP
                RETURN QUERY
                    INSERT INTO \(schema).videos AS v (video_id, title, original_url, state, attempts, lease_owner,
                                                     lease_expires_at, last_error, created_at, updated_at)
                    VALUES (p_video_id, p_title, p_original_url, 'processing', 1, p_token, v_lease_end, NULL, v_now, v_now)
                    ON CONFLICT (video_id) DO NOTHING
                    RETURNING 'created'::text, v;
                IF FOUND THEN
                    RETURN;
                END IF;
                SELECT * INTO previous FROM \(schema).videos v WHERE v.video_id = p_video_id FOR UPDATE;
                IF FOUND THEN
                    decision := CASE
                        WHEN previous.state = 'completed' THEN 'alreadyCompleted'
                        WHEN previous.state = 'abandoned' THEN 'abandoned'
                        WHEN previous.state = 'pending' THEN 'claimedPending'
                        WHEN previous.state = 'failed' AND previous.attempts >= p_max_attempts THEN 'abandon'
                        WHEN previous.state = 'failed' AND previous.not_before > v_now THEN 'retryNotDue'
                        WHEN previous.state = 'failed' THEN 'retryingFailed'
                        WHEN previous.lease_expires_at <= v_now AND previous.attempts >= p_max_attempts THEN 'abandon'
                        WHEN previous.lease_expires_at <= v_now THEN 'tookOverExpiredLease'
                        ELSE 'alreadyProcessing' END;
                    IF decision IN ('claimedPending', 'retryingFailed', 'tookOverExpiredLease') THEN
                        RETURN QUERY
                            UPDATE \(schema).videos v
                            SET state = 'processing', attempts = v.attempts + 1, lease_owner = p_token,
                                lease_expires_at = v_lease_end, not_before = NULL, updated_at = v_now,
                                last_error = CASE WHEN decision = 'tookOverExpiredLease' THEN 'lease expired'
                                                  ELSE v.last_error END,
                                errors = CASE WHEN decision = 'tookOverExpiredLease'
                                              THEN \(schema).scalekit_push_error(v.errors, v.attempts, 'lease expired', v_now)
                                              ELSE v.errors END
                            WHERE v.video_id = p_video_id
                            RETURNING decision, v;
                    ELSIF decision = 'abandon' THEN
                        RETURN QUERY
                            UPDATE \(schema).videos v
                            SET state = 'abandoned', lease_owner = NULL, lease_expires_at = NULL, not_before = NULL,
                                updated_at = v_now,
                                last_error = CASE WHEN v.state = 'processing' THEN 'lease expired' ELSE v.last_error END,
                                errors = CASE WHEN v.state = 'processing'
                                              THEN \(schema).scalekit_push_error(v.errors, v.attempts, 'lease expired', v_now)
                                              ELSE v.errors END
                            WHERE v.video_id = p_video_id
                            RETURNING 'abandoned'::text, v;
                    ELSE
                        RETURN QUERY SELECT decision, v FROM \(schema).videos v WHERE v.video_id = p_video_id;
                    END IF;
                    RETURN;
                END IF;
                -- The row was deleted between the two statements: decide again.
            END LOOP;
        END
        $claim$;
        """
    }

    /// The claim decision as one server-side function, so a claim is one
    /// round trip however it is decided. Each statement inside sees the
    /// latest committed data (READ COMMITTED, VOLATILE):
    /// 1. `INSERT … ON CONFLICT DO NOTHING RETURNING`: exactly one caller
    ///    creates a new video (a concurrent inserter waits for the first to
    ///    commit, then inserts nothing);
    /// 2. otherwise `SELECT … FOR UPDATE` locks the row, so concurrent
    ///    claimers of an existing video queue up and each decides on the
    ///    previous one's committed result: exactly one retries a failed video
    ///    or takes over an expired lease, the rest see it processing.
    static func claimFunction(_ schema: String) -> String {
        """
        CREATE FUNCTION \(schema).scalekit_claim_video(
            p_video_id text, p_title text, p_original_url text, p_token text,
            p_now timestamptz, p_lease_end timestamptz)
        RETURNS TABLE (
            outcome text, video_id text, title text, original_url text, state text, attempts integer,
            lease_owner text, lease_expires_at timestamptz, last_error text,
            created_at timestamptz, updated_at timestamptz)
        LANGUAGE plpgsql VOLATILE AS $claim$
        #variable_conflict use_column
        DECLARE
            previous_state text;
            previous_expiry timestamptz;
        BEGIN
            LOOP
                RETURN QUERY
                    WITH created AS (
                        INSERT INTO \(schema).videos AS v (video_id, title, original_url, state, attempts, lease_owner,
                                                         lease_expires_at, last_error, created_at, updated_at)
                        VALUES (p_video_id, p_title, p_original_url, 'processing', 1, p_token, p_lease_end,
                                NULL, p_now, p_now)
                        ON CONFLICT (video_id) DO NOTHING
                        RETURNING v.*)
                    SELECT 'created'::text, c.video_id, c.title, c.original_url, c.state, c.attempts,
                           c.lease_owner, c.lease_expires_at, c.last_error, c.created_at, c.updated_at
                    FROM created c;
                IF FOUND THEN
                    RETURN;
                END IF;
                SELECT v.state, v.lease_expires_at INTO previous_state, previous_expiry
                FROM \(schema).videos v WHERE v.video_id = p_video_id FOR UPDATE;
                IF FOUND THEN
                    IF previous_state = 'failed' OR (previous_state = 'processing' AND previous_expiry <= p_now) THEN
                        RETURN QUERY
                            UPDATE \(schema).videos v
                            SET state = 'processing', attempts = v.attempts + 1, lease_owner = p_token,
                                lease_expires_at = p_lease_end, updated_at = p_now
                            WHERE v.video_id = p_video_id
                            RETURNING CASE previous_state WHEN 'failed' THEN 'retryingFailed'
                                                          ELSE 'tookOverExpiredLease' END,
                                      v.video_id, v.title, v.original_url, v.state, v.attempts, v.lease_owner,
                                      v.lease_expires_at, v.last_error, v.created_at, v.updated_at;
                    ELSE
                        RETURN QUERY
                            SELECT CASE previous_state WHEN 'completed' THEN 'alreadyCompleted'
                                                       ELSE 'alreadyProcessing' END,
                                   v.video_id, v.title, v.original_url, v.state, v.attempts, v.lease_owner,
                                   v.lease_expires_at, v.last_error, v.created_at, v.updated_at
                            FROM \(schema).videos v WHERE v.video_id = p_video_id;
                    END IF;
                    RETURN;
                END IF;
                -- The row was deleted between the two statements: decide again.
            END LOOP;
        END
        $claim$;
        """
    }

    /// Checks a schema name and returns it quoted as an SQL identifier.
    /// Only `[A-Za-z_][A-Za-z0-9_]*` up to 63 bytes is accepted, so the name
    /// can never carry SQL.
    static func quotedIdentifier(_ name: String) throws(ScaleKitError) -> String {
        let bytes = Array(name.utf8)
        let valid =
            !bytes.isEmpty && bytes.count <= 63
            && bytes.enumerated().allSatisfy { index, byte in
                byte == UInt8(ascii: "_") || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || (index > 0 && byte >= 0x30 && byte <= 0x39)
            }
        guard valid else {
            throw ScaleKitError(
                .invalidArgument, "a PostgreSQL schema name must match [A-Za-z_][A-Za-z0-9_]* (at most 63 bytes)")
        }
        return "\"\(name)\""
    }

    /// Applies every migration the schema lacks (up to `last`, for tests that
    /// make a database as an earlier release left it), in one transaction;
    /// returns the versions applied.
    static func migrate(
        _ connection: isolated PostgresConnection, schema: String, through last: Int = .max
    ) throws(ScaleKitError) -> [Int] {
        let quoted = try quotedIdentifier(schema)
        return try connection.transaction { connection throws(ScaleKitError) -> [Int] in
            try connection.query(
                "SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))", name: "lock schema migrations",
                [String(advisoryLockKey), schema], prepared: false)
            let schemaExists = try !connection.query(
                "SELECT 1 FROM pg_namespace WHERE nspname = $1::text", name: "find schema", [schema], prepared: false
            ).isEmpty
            if !schemaExists {
                try connection.execute("CREATE SCHEMA \(quoted)", name: "create schema")
            }
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS \(quoted).scalekit_schema_migrations (
                    version integer PRIMARY KEY,
                    description text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, name: "create migrations table")
            let applied = Set(
                try connection.query(
                    "SELECT version FROM \(quoted).scalekit_schema_migrations", name: "read schema versions",
                    prepared: false
                ).compactMap { $0[0].flatMap { Int($0) } })
            return try SchemaMigrations.run(migrations, through: last, applied: applied) { (migration) throws(ScaleKitError) in
                try connection.execute(migration.sql(quoted), name: "migration \(migration.version)")
                try connection.query(
                    "INSERT INTO \(quoted).scalekit_schema_migrations (version, description) VALUES ($1::integer, $2::text)",
                    name: "record schema version", [String(migration.version), migration.description], prepared: false)
            }
        }
    }
}
