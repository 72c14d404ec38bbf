//! The metadata schema and its numbered migrations.
//!
//! ```text
//!  images ─────────────┐ id = config digest (docker's image ID)
//!  │ id PK             │ manifest_digest, manifest_media_type: the manifest we hold
//!  │ created, size     │ size = sum of the layers' unpacked sizes (docker's SIZE)
//!  │ added_at          │
//!  │ parent (v9)       │ the image a `commit` started from (docker's `Parent`; a
//!  │                   │ weak reference: it may be gone)
//!  │                   │
//!  ├─< image_layers    │ (image_id, position) PK → diff_id, chain_id
//!  ├─< tags            │ name PK ("docker.io/library/busybox:latest") → image_id
//!  ├─< repo_digests    │ (repo, digest) PK → image_id   ("repo@sha256:…")
//!  │                   │
//!  layer_blobs         │ (diff_id, blob_digest) PK, media_type, size
//!  │                   │   one diffID may have several blobs (gzip, zstd, plain)
//!  snapshots           │ id PK AUTOINCREMENT (dir snapshots/<id>/fs), chain_id UNIQUE,
//!  │                   │ parent_chain_id, diff_id, size (unpacked bytes), packed (v10:
//!  │                   │ 1 = recorded from its blob, unpacked into fs/ on first use)
//!  containers          │ id PK, name UNIQUE, image_id → images, spec (JSON), state
//!                      │ (JSON), running (v6: the state's `Running`, 0/1, written with it)
//!  leases              │ id PK, expires_at; lease_resources (lease_id, kind, key):
//!                      │ GC roots for work that is not yet an image
//!  (v2-v11)            │ the build context's stat index: context_files (a row per file),
//!                      │ then context_index (v11, a blob per root); v12 moved it to
//!                      │ files (`crate::context_index`)
//!  build_cache (v2, v3)│ key PK (step cache key) → parent_key, config_digest (the image
//!                      │ config after the step, a blob; v3: NULL for a metadata step
//!                      │ in the middle of a stage, whose config is replayed), created
//!                      │ (v3: the step's history time, for that replay),
//!                      │ diff_id/chain_id/blob_digest of the layer the step made (NULL
//!                      │ for metadata steps), created_at, last_used, description
//!  └─ build_cache_sources (v12) key PK → build_cache ON DELETE CASCADE, summary (a
//!                      │ COPY's selection summary, base64, made by strata-build; v2-v11:
//!                      │ inside `description`)
//!  build_records (v4)  │ image_id PK → images ON DELETE CASCADE, record (JSON, owned by
//!                      │ strata-build: context, Dockerfile, args, SOURCE_DATE_EPOCH, the
//!                      │ base image and each history row's cache key), recorded_at
//!  networks (v5)       │ id PK, name UNIQUE, driver (bridge|host|null), created, spec (JSON:
//!  │                   │ IPAM config, internal, labels, options; owned by strata-runtime),
//!  │                   │ last_ip (the IPAM cursor: the address handed out last)
//!  └─< network_endpoints (v5) (network_id, container_id) PK → containers ON DELETE CASCADE,
//!                      │ position (connect order: 0 = eth0), config (JSON: aliases, --ip),
//!                      │ ip, mac: the address while the container runs (NULL otherwise,
//!                      │ unique per network)
//!  volumes (v7)        │ name PK (dir volumes/<name>/_data), driver ("local"), created
//!  │                   │ (RFC 3339), labels, options (JSON maps), anonymous (0/1)
//!  └─< volume_refs (v7)│ (volume_name, container_id, destination) PK; volume_name →
//!                      │ volumes (no cascade: an in-use volume cannot be deleted),
//!                      │ container_id → containers ON DELETE CASCADE: which containers
//!                      │ use a volume (GC roots; `volume rm`, `volume prune`)
//!  selection_memo (v8) │ memo PK (a hash of a layer chain and a COPY's source selector,
//!                      │ made by strata-build) → chain_id ("" for an empty root), checksum
//!                      │ (the selection's); rows of chains GC deleted go with them
//! ```
//! Blobs, snapshots and layers are alive while a row reaches them from
//! `images`, `containers`, `build_cache` or an unexpired lease; everything else is
//! garbage (see `gc.rs`). The version is SQLite's `user_version`; each
//! migration runs once, in order, inside one transaction.

/// The migrations, in order; index + 1 is the schema version they produce.
pub const MIGRATIONS: &[&str] = &[
    // 1: images, layers, snapshots, containers, leases.
    r#"
    CREATE TABLE images (
        id                  TEXT PRIMARY KEY,
        manifest_digest     TEXT NOT NULL,
        manifest_media_type TEXT NOT NULL,
        created             TEXT,
        size                INTEGER NOT NULL,
        added_at            INTEGER NOT NULL
    );
    CREATE TABLE image_layers (
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        diff_id  TEXT NOT NULL,
        chain_id TEXT NOT NULL,
        PRIMARY KEY (image_id, position)
    );
    CREATE INDEX image_layers_chain ON image_layers(chain_id);
    CREATE INDEX image_layers_diff ON image_layers(diff_id);
    CREATE TABLE tags (
        name     TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        added_at INTEGER NOT NULL
    );
    CREATE INDEX tags_image ON tags(image_id);
    CREATE TABLE repo_digests (
        repo     TEXT NOT NULL,
        digest   TEXT NOT NULL,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        PRIMARY KEY (repo, digest)
    );
    CREATE INDEX repo_digests_image ON repo_digests(image_id);
    CREATE TABLE layer_blobs (
        diff_id     TEXT NOT NULL,
        blob_digest TEXT NOT NULL,
        media_type  TEXT NOT NULL,
        size        INTEGER NOT NULL,
        PRIMARY KEY (diff_id, blob_digest)
    );
    CREATE INDEX layer_blobs_blob ON layer_blobs(blob_digest);
    CREATE TABLE snapshots (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        chain_id        TEXT NOT NULL UNIQUE,
        parent_chain_id TEXT,
        diff_id         TEXT NOT NULL,
        size            INTEGER NOT NULL,
        created_at      INTEGER NOT NULL
    );
    CREATE TABLE containers (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        image_id    TEXT NOT NULL,
        image_name  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        spec        TEXT NOT NULL,
        state       TEXT NOT NULL
    );
    CREATE INDEX containers_image ON containers(image_id);
    CREATE TABLE leases (
        id         TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        expires_at INTEGER
    );
    CREATE TABLE lease_resources (
        lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
        kind     TEXT NOT NULL,
        key      TEXT NOT NULL,
        PRIMARY KEY (lease_id, kind, key)
    );
    CREATE INDEX lease_resources_key ON lease_resources(kind, key);
    "#,
    // 2: the build context stat index and the build cache.
    r#"
    CREATE TABLE context_files (
        path        TEXT PRIMARY KEY,
        dev         INTEGER NOT NULL,
        ino         INTEGER NOT NULL,
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        ctime_ns    INTEGER NOT NULL,
        mode        INTEGER NOT NULL,
        sha256      TEXT NOT NULL,
        recorded_ns INTEGER NOT NULL
    );
    CREATE TABLE build_cache (
        key           TEXT PRIMARY KEY,
        parent_key    TEXT,
        config_digest TEXT NOT NULL,
        diff_id       TEXT,
        chain_id      TEXT,
        blob_digest   TEXT,
        created_at    INTEGER NOT NULL,
        last_used     INTEGER NOT NULL,
        description   TEXT NOT NULL
    );
    CREATE INDEX build_cache_chain ON build_cache(chain_id);
    "#,
    // 3: metadata steps no longer store a config blob each (a Dockerfile
    // of n LABELs wrote n configs of up to n labels: quadratic bytes).
    // SQLite cannot drop NOT NULL in place: rebuild the table.
    r#"
    CREATE TABLE build_cache_v3 (
        key           TEXT PRIMARY KEY,
        parent_key    TEXT,
        config_digest TEXT,
        created       TEXT,
        diff_id       TEXT,
        chain_id      TEXT,
        blob_digest   TEXT,
        created_at    INTEGER NOT NULL,
        last_used     INTEGER NOT NULL,
        description   TEXT NOT NULL
    );
    INSERT INTO build_cache_v3 (key, parent_key, config_digest, created, diff_id, chain_id,
                                blob_digest, created_at, last_used, description)
        SELECT key, parent_key, config_digest, NULL, diff_id, chain_id, blob_digest,
               created_at, last_used, description FROM build_cache;
    DROP TABLE build_cache;
    ALTER TABLE build_cache_v3 RENAME TO build_cache;
    CREATE INDEX build_cache_chain ON build_cache(chain_id);
    CREATE INDEX build_cache_parent ON build_cache(parent_key);
    "#,
    // 4: what each built image was built from (`history`, `image verify`).
    r#"
    CREATE TABLE build_records (
        image_id    TEXT PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        record      TEXT NOT NULL,
        recorded_at INTEGER NOT NULL
    );
    "#,
    // 5: networks and the containers attached to them.
    r#"
    CREATE TABLE networks (
        id      TEXT PRIMARY KEY,
        name    TEXT NOT NULL UNIQUE,
        driver  TEXT NOT NULL,
        created TEXT NOT NULL,
        spec    TEXT NOT NULL,
        last_ip TEXT
    );
    CREATE TABLE network_endpoints (
        network_id   TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        position     INTEGER NOT NULL,
        config       TEXT NOT NULL,
        ip           TEXT,
        mac          TEXT,
        PRIMARY KEY (network_id, container_id)
    );
    CREATE UNIQUE INDEX network_endpoints_ip ON network_endpoints(network_id, ip)
        WHERE ip IS NOT NULL;
    CREATE INDEX network_endpoints_container ON network_endpoints(container_id);
    "#,
    // 6: whether a container runs, as a typed column (it was only inside
    // the state JSON, which readers searched as text).
    r#"
    ALTER TABLE containers ADD COLUMN running INTEGER NOT NULL DEFAULT 0;
    UPDATE containers SET running = 1
        WHERE json_valid(state) AND json_extract(state, '$.Running') = 1;
    "#,
    // 7: volumes and the containers that use them.
    r#"
    CREATE TABLE volumes (
        name      TEXT PRIMARY KEY,
        driver    TEXT NOT NULL,
        created   TEXT NOT NULL,
        labels    TEXT NOT NULL,
        options   TEXT NOT NULL,
        anonymous INTEGER NOT NULL
    );
    CREATE TABLE volume_refs (
        volume_name  TEXT NOT NULL REFERENCES volumes(name),
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        destination  TEXT NOT NULL,
        PRIMARY KEY (volume_name, container_id, destination)
    );
    CREATE INDEX volume_refs_container ON volume_refs(container_id);
    "#,
    // 8: selection checksums of COPY --from sources, by the layer chain
    // they were taken in (immutable, so the checksum never changes).
    r#"
    CREATE TABLE selection_memo (
        memo     TEXT PRIMARY KEY,
        chain_id TEXT NOT NULL,
        checksum TEXT NOT NULL
    );
    CREATE INDEX selection_memo_chain ON selection_memo(chain_id);
    "#,
    // 9: the image a committed image was made from (docker's `Parent`).
    r#"
    ALTER TABLE images ADD COLUMN parent TEXT;
    "#,
    // 10: snapshots recorded from a verified blob and unpacked on first use
    // (`load`, `pull`): their `snapshots/<id>/fs` appears when a container,
    // build, cp, diff, export or commit first needs it.
    r#"
    ALTER TABLE snapshots ADD COLUMN packed INTEGER NOT NULL DEFAULT 0;
    "#,
    // 11: the stat index as one compact blob per context root (read as
    // one value on a no-op rebuild) instead of a row per file.
    r#"
    DROP TABLE context_files;
    CREATE TABLE context_index (
        root    TEXT PRIMARY KEY,
        entries BLOB NOT NULL
    );
    "#,
    // 12: the stat index moves to a file per context root
    // (`context-index/`, see `crate::context_index`), read without the
    // connection's lock; a COPY record's selection summary (hundreds of KB
    // for a large context) moves out of `description` into its own table,
    // so that marking a record used reads and rewrites a few bytes.
    r#"
    DROP TABLE context_index;
    CREATE TABLE build_cache_sources (
        key     TEXT PRIMARY KEY REFERENCES build_cache(key) ON DELETE CASCADE,
        summary TEXT NOT NULL
    );
    INSERT INTO build_cache_sources (key, summary)
        SELECT key, json_extract(description, '$.sources') FROM build_cache
        WHERE json_valid(description) AND json_type(description, '$.sources') = 'text';
    UPDATE build_cache SET description = json_remove(description, '$.sources')
        WHERE json_valid(description) AND json_type(description, '$.sources') IS NOT NULL;
    "#,
];
