/* Maps (array, per-thread array, hash, LRU hash, ring buffer) through the
 * host API and through the ops programs use, and the standard helpers
 * called the way programs call them (rt->helper_fns). */
#include "testlib.h"
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static pl_map *new_map(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max_entries)
{
    struct pl_map_spec spec = {"m", type, key_size, value_size, max_entries, 0};
    pl_map *map = NULL;
    pl_error err;
    if (pl_map_create(NULL, &spec, &map, &err) != 0) {
        fprintf(stderr, "  map create failed: %s\n", err.msg);
        return NULL;
    }
    return map;
}

/* Drops the last reference and waits for the deferred destruction, so leak
 * checking sees everything freed. */
static void free_map(pl_map *map)
{
    pl_map_put(map);
    pl_rcu_barrier();
}

static int create_fails(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags,
                        const char *want_msg)
{
    struct pl_map_spec spec = {"counts", type, ks, vs, max, flags};
    pl_map *map = (pl_map *)1;
    pl_error err = {0};
    int rc = pl_map_create(NULL, &spec, &map, &err);
    if (rc == 0) {
        free_map(map);
        return 0;
    }
    if (map != NULL || err.code != rc || (want_msg && !strstr(err.msg, want_msg))) {
        fprintf(stderr, "  unexpected error %d: %s\n", rc, err.msg);
        return 1;
    }
    return rc;
}

TEST(maps_create_rejects_bad_specs)
{
    CHECK_EQ(create_fails(PL_MAP_ARRAY, 8, 4, 1, 0, "map 'counts': array key_size must be 4, got 8"),
             PL_EMAP);
    CHECK_EQ(create_fails(3, 4, 4, 1, 0, "unsupported type 3"), PL_EMAP);
    CHECK_EQ(create_fails(PL_MAP_HASH, 4, 4, 0, 0, "max_entries"), PL_EMAP);
    CHECK_EQ(create_fails(PL_MAP_HASH, 0, 4, 1, 0, "key_size"), PL_EMAP);
    CHECK_EQ(create_fails(PL_MAP_HASH, 513, 4, 1, 0, "key_size"), PL_EMAP);
    CHECK_EQ(create_fails(PL_MAP_ARRAY, 4, 0, 1, 0, "value_size"), PL_EMAP);
    CHECK_EQ(create_fails(PL_MAP_ARRAY, 4, PL_MAP_VALUE_MAX + 1, 1, 0, "value_size"), PL_EMAP);
    CHECK_EQ(create_fails(PL_MAP_ARRAY, 4, 8, 1, 1u << 20, "unsupported flags"), PL_EMAP);
    CHECK_EQ(create_fails(PL_MAP_ARRAY, 4, PL_MAP_VALUE_MAX, 0xffffffffu, 0, "more than the limit"),
             PL_E2BIG);
    CHECK_EQ(create_fails(PL_MAP_LRU_HASH, 512, 1u << 20, 0xffffffffu, 0, "more than the limit"),
             PL_E2BIG);
    CHECK_EQ(create_fails(PL_MAP_PERTHREAD_ARRAY, 4, 4096, 1u << 20, 0, "more than the limit"),
             PL_E2BIG);
    CHECK_EQ(create_fails(PL_MAP_RINGBUF, 0, 0, 6144, 0, "power of two"), PL_EMAP);
    CHECK_EQ(create_fails(PL_MAP_RINGBUF, 0, 0, 2048, 0, "power of two"), PL_EMAP);
    CHECK_EQ(create_fails(PL_MAP_RINGBUF, 4, 0, 4096, 0, "must be 0"), PL_EMAP);
    CHECK_EQ(create_fails(PL_MAP_RINGBUF, 0, 0, 1u << 31, 0, "exceeds"), PL_E2BIG);
    pl_map *map;
    CHECK_EQ(pl_map_create(NULL, NULL, &map, NULL), PL_EINVAL);
}

TEST(maps_info_and_compatibility)
{
    struct pl_map_spec spec = {"a_rather_long_name_that_is_kept", PL_MAP_HASH, 8, 16, 10, 1};
    pl_map *map;
    CHECK_EQ(pl_map_create(NULL, &spec, &map, NULL), 0);
    const struct pl_map_spec *info = pl_map_info(map);
    CHECK(strcmp(info->name, spec.name) == 0);
    CHECK(info->name != spec.name);
    CHECK_EQ(info->type, PL_MAP_HASH);
    CHECK_EQ(info->flags, 1);
    CHECK(pl_map_compatible(info, &spec));
    struct pl_map_spec other = spec;
    other.max_entries = 11;
    CHECK(!pl_map_compatible(info, &other));
    other = spec;
    other.type = PL_MAP_LRU_HASH;
    CHECK(!pl_map_compatible(info, &other));
    other = spec;
    other.value_size = 8;
    CHECK(!pl_map_compatible(info, &other));
    pl_map_get(map);
    pl_map_put(map);
    free_map(map);
}

TEST(maps_array_host_api)
{
    pl_map *map = new_map(PL_MAP_ARRAY, 4, 12, 5);
    CHECK(map);
    uint32_t key = 3, next;
    uint8_t value[12], zero[12] = {0};
    memset(value, 0xaa, sizeof(value));
    CHECK_EQ(pl_map_lookup(map, &key, value), 0);
    CHECK(memcmp(value, zero, sizeof(zero)) == 0);
    memset(value, 7, sizeof(value));
    CHECK_EQ(pl_map_update(map, &key, value, PL_MAP_ANY), 0);
    CHECK_EQ(pl_map_update(map, &key, value, PL_MAP_EXIST), 0);
    CHECK_EQ(pl_map_update(map, &key, value, PL_MAP_NOEXIST), PL_EEXIST);
    CHECK_EQ(pl_map_update(map, &key, value, 4), PL_EINVAL);
    uint8_t back[12];
    CHECK_EQ(pl_map_lookup(map, &key, back), 0);
    CHECK(memcmp(back, value, sizeof(value)) == 0);
    /* Values are 8-aligned in place (programs use atomics on them). */
    CHECK_EQ((uintptr_t)map->ops->lookup(map, &key) % 8, 0);

    key = 5;
    CHECK_EQ(pl_map_lookup(map, &key, back), PL_ENOENT);
    CHECK_EQ(pl_map_update(map, &key, value, PL_MAP_ANY), PL_E2BIG);
    CHECK(map->ops->lookup(map, &key) == NULL);
    key = 0;
    CHECK_EQ(pl_map_delete(map, &key), PL_EINVAL);
    CHECK_EQ(pl_map_count(map), 5);
    CHECK_EQ(pl_map_lookup(map, NULL, back), PL_EINVAL);

    /* Iteration: NULL and out-of-range keys start at 0. */
    uint32_t seen = 0;
    int rc;
    const uint32_t *cur = NULL;
    while ((rc = pl_map_next_key(map, cur, &next)) == 0) {
        CHECK_EQ(next, seen);
        seen++;
        key = next;
        cur = &key;
    }
    CHECK_EQ(rc, PL_ENOENT);
    CHECK_EQ(seen, 5);
    key = 99;
    CHECK_EQ(pl_map_next_key(map, &key, &next), 0);
    CHECK_EQ(next, 0);
    free_map(map);
}

TEST(maps_value_base_of_global_data)
{
    pl_map *data = new_map(PL_MAP_ARRAY, 4, 20, 1);
    pl_map *two = new_map(PL_MAP_ARRAY, 4, 20, 2);
    pl_map *hash = new_map(PL_MAP_HASH, 4, 20, 1);
    CHECK(data && two && hash);
    uint8_t *base = pl_map_value_base(data);
    CHECK(base != NULL);
    memcpy(base, "hello", 6);
    uint32_t key = 0;
    uint8_t value[20];
    CHECK_EQ(pl_map_lookup(data, &key, value), 0);
    CHECK(strcmp((char *)value, "hello") == 0);
    CHECK(pl_map_value_base(two) == NULL);
    CHECK(pl_map_value_base(hash) == NULL);
    free_map(data);
    free_map(two);
    free_map(hash);
}

TEST(maps_hash_host_api)
{
    pl_map *map = new_map(PL_MAP_HASH, 8, 8, 16);
    CHECK(map);
    uint64_t key = 42, value = 1, out = 0;
    CHECK_EQ(pl_map_lookup(map, &key, &out), PL_ENOENT);
    CHECK_EQ(pl_map_update(map, &key, &value, PL_MAP_EXIST), PL_ENOENT);
    CHECK_EQ(pl_map_update(map, &key, &value, PL_MAP_NOEXIST), 0);
    CHECK_EQ(pl_map_update(map, &key, &value, PL_MAP_NOEXIST), PL_EEXIST);
    value = 2;
    CHECK_EQ(pl_map_update(map, &key, &value, PL_MAP_EXIST), 0);
    CHECK_EQ(pl_map_update(map, &key, &value, 3), PL_EINVAL);
    CHECK_EQ(pl_map_lookup(map, &key, &out), 0);
    CHECK_EQ(out, 2);
    CHECK_EQ(pl_map_count(map), 1);
    CHECK_EQ(pl_map_delete(map, &key), 0);
    CHECK_EQ(pl_map_delete(map, &key), PL_ENOENT);
    CHECK_EQ(pl_map_count(map), 0);
    CHECK_EQ(pl_map_next_key(map, NULL, &out), PL_ENOENT);
    free_map(map);
}

TEST(maps_hash_update_replaces_element_for_readers)
{
    pl_map *map = new_map(PL_MAP_HASH, 4, 8, 4);
    CHECK(map);
    uint32_t key = 1;
    uint64_t v1 = 111, v2 = 222;
    CHECK_EQ(pl_map_update(map, &key, &v1, PL_MAP_ANY), 0);
    pl_thread_register();
    pl_rcu_read_lock();
    uint64_t *old = map->ops->lookup(map, &key);
    CHECK_EQ(map->ops->update(map, &key, &v2, PL_MAP_ANY), 0);
    uint64_t *cur = map->ops->lookup(map, &key);
    /* A reader holding the old element still sees a complete old value. */
    bool ok = old && cur && old != cur && *old == 111 && *cur == 222;
    pl_rcu_read_unlock();
    CHECK(ok);
    CHECK_EQ(pl_map_count(map), 1);
    free_map(map);
}

TEST(maps_hash_full_is_e2big)
{
    pl_map *map = new_map(PL_MAP_HASH, 4, 4, 4);
    CHECK(map);
    for (uint32_t k = 0; k < 4; k++)
        CHECK_EQ(pl_map_update(map, &k, &k, PL_MAP_ANY), 0);
    uint32_t k = 4, v = 0;
    CHECK_EQ(pl_map_update(map, &k, &v, PL_MAP_ANY), PL_E2BIG);
    CHECK_EQ(pl_map_update(map, &k, &v, PL_MAP_NOEXIST), PL_E2BIG);
    k = 2;
    v = 20;
    CHECK_EQ(pl_map_update(map, &k, &v, PL_MAP_ANY), 0); /* replacing needs no room */
    CHECK_EQ(pl_map_delete(map, &k), 0);
    k = 4;
    CHECK_EQ(pl_map_update(map, &k, &v, PL_MAP_ANY), 0);
    CHECK_EQ(pl_map_count(map), 4);
    free_map(map);
}

TEST(maps_hash_iteration_visits_every_key_once)
{
    enum { N = 300 };
    pl_map *map = new_map(PL_MAP_HASH, 12, 4, 512);
    CHECK(map);
    struct {
        uint32_t id, pad[2];
    } key = {0, {0, 0}}, next;
    for (uint32_t i = 0; i < N; i++) {
        key.id = i * 7919;
        CHECK_EQ(pl_map_update(map, &key, &i, PL_MAP_NOEXIST), 0);
    }
    uint8_t seen[N] = {0};
    unsigned visits = 0;
    int rc;
    for (const void *cur = NULL; (rc = pl_map_next_key(map, cur, &next)) == 0; cur = &key) {
        CHECK_EQ(next.id % 7919, 0);
        CHECK(next.id / 7919 < N);
        seen[next.id / 7919]++;
        visits++;
        key = next;
    }
    CHECK_EQ(rc, PL_ENOENT);
    CHECK_EQ(visits, N);
    for (int i = 0; i < N; i++)
        CHECK_EQ(seen[i], 1);
    /* A key deleted under the iterator restarts it from the first key, as
     * in the kernel. */
    key.id = 0;
    CHECK_EQ(pl_map_delete(map, &key), 0);
    CHECK_EQ(pl_map_next_key(map, &key, &next), 0);
    struct {
        uint32_t id, pad[2];
    } first;
    CHECK_EQ(pl_map_next_key(map, NULL, &first), 0);
    CHECK_EQ(next.id, first.id);
    free_map(map);
}

static bool lru_has(pl_map *map, uint32_t k)
{
    uint32_t v;
    return pl_map_lookup(map, &k, &v) == 0 && v == k;
}

TEST(maps_lru_evicts_cold_and_keeps_recently_used)
{
    enum { MAX = 64, HOT = 8 };
    pl_map *map = new_map(PL_MAP_LRU_HASH, 4, 4, MAX);
    CHECK(map);
    for (uint32_t k = 0; k < MAX; k++)
        CHECK_EQ(pl_map_update(map, &k, &k, PL_MAP_NOEXIST), 0);
    uint32_t next_new = 1000;
    for (int round = 0; round < 20; round++) {
        for (uint32_t k = 0; k < HOT; k++)
            CHECK(lru_has(map, k)); /* the lookup marks it used */
        for (int i = 0; i < HOT; i++, next_new++)
            CHECK_EQ(pl_map_update(map, &next_new, &next_new, PL_MAP_NOEXIST), 0);
        CHECK_EQ(pl_map_count(map), MAX);
    }
    for (uint32_t k = 0; k < HOT; k++)
        CHECK(lru_has(map, k));
    unsigned cold_left = 0;
    for (uint32_t k = HOT; k < MAX; k++)
        cold_left += lru_has(map, k);
    CHECK(cold_left < MAX - HOT); /* cold keys were evicted */
    /* Replacing an existing key evicts nothing. */
    uint32_t k = 0, v = 0;
    CHECK_EQ(pl_map_update(map, &k, &v, PL_MAP_EXIST), 0);
    CHECK_EQ(pl_map_count(map), MAX);
    for (k = 1; k < HOT; k++)
        CHECK(lru_has(map, k));
    free_map(map);
}

/* ------------------------------------------------------ per-thread array */

struct slot_arg {
    pl_map *map;
    pthread_barrier_t *barrier;
    uint64_t mine, seen_after_host_update;
};

static void *slot_worker(void *p)
{
    struct slot_arg *a = p;
    uint32_t key = 1;
    uint64_t *v = a->map->ops->lookup(a->map, &key);
    *v = a->mine;
    pthread_barrier_wait(a->barrier); /* both written */
    pthread_barrier_wait(a->barrier); /* main has read all slots and updated */
    a->seen_after_host_update = *(uint64_t *)a->map->ops->lookup(a->map, &key);
    return NULL;
}

TEST(maps_perthread_array_isolates_threads)
{
    pl_map *map = new_map(PL_MAP_PERTHREAD_ARRAY, 4, 8, 2);
    CHECK(map);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 3);
    struct slot_arg args[2] = {{map, &barrier, 111, 0}, {map, &barrier, 222, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, slot_worker, &args[i]);
    pthread_barrier_wait(&barrier);

    uint64_t *all = calloc(PL_MAX_THREADS, sizeof(uint64_t));
    uint32_t key = 1;
    int rc = pl_map_lookup(map, &key, all);
    int n111 = 0, n222 = 0, nzero = 0;
    for (int s = 0; s < PL_MAX_THREADS; s++) {
        n111 += all[s] == 111;
        n222 += all[s] == 222;
        nzero += all[s] == 0;
    }
    uint64_t seven = 7;
    int urc = pl_map_update(map, &key, &seven, PL_MAP_ANY);
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    free(all);
    CHECK_EQ(rc, 0);
    CHECK_EQ(n111, 1);
    CHECK_EQ(n222, 1);
    CHECK_EQ(nzero, PL_MAX_THREADS - 2);
    CHECK_EQ(urc, 0);
    CHECK_EQ(args[0].seen_after_host_update, 7);
    CHECK_EQ(args[1].seen_after_host_update, 7);
    /* This thread's view is its own slot, also set by the host update. */
    CHECK_EQ(*(uint64_t *)map->ops->lookup(map, &key), 7);
    CHECK_EQ(pl_map_update(map, &key, &seven, PL_MAP_NOEXIST), PL_EEXIST);
    CHECK_EQ(pl_map_delete(map, &key), PL_EINVAL);
    key = 2;
    CHECK_EQ(pl_map_update(map, &key, &seven, PL_MAP_ANY), PL_E2BIG);
    free_map(map);
}

/* ------------------------------------------------------------ ring buffer */

struct collected {
    uint32_t n, sizes[512];
    uint64_t first_word[512];
    int stop_after;
};

static int collect(void *user, const void *data, uint32_t size)
{
    struct collected *c = user;
    uint64_t w = 0;
    memcpy(&w, data, size < 8 ? size : 8);
    c->sizes[c->n] = size;
    c->first_word[c->n] = w;
    c->n++;
    return c->stop_after && (int)c->n >= c->stop_after;
}

TEST(maps_ringbuf_order_and_wraparound)
{
    pl_map *rb = new_map(PL_MAP_RINGBUF, 0, 0, 4096);
    CHECK(rb);
    uint8_t rec[300];
    uint64_t seq = 0, expect = 0;
    /* Sizes that are not multiples of 8 and do not divide the buffer, so
     * records land across the end and padding is needed. */
    for (int batch = 0; batch < 40; batch++) {
        int per_batch = 1 + batch % 7;
        for (int i = 0; i < per_batch; i++, seq++) {
            memcpy(rec, &seq, 8);
            CHECK_EQ(pl_ringbuf_output(rb, rec, 8 + seq % 290, 0), 0);
        }
        struct collected c = {0};
        CHECK_EQ(pl_ringbuf_consume(rb, collect, &c), per_batch);
        for (uint32_t i = 0; i < c.n; i++, expect++) {
            CHECK_EQ(c.first_word[i], expect);
            CHECK_EQ(c.sizes[i], 8 + expect % 290);
        }
        CHECK_EQ(pl_map_count(rb), 0);
    }
    CHECK(seq * 150 > 3 * 4096); /* wrapped several times */
    CHECK_EQ(pl_ringbuf_drops(rb), 0);
    free_map(rb);
}

TEST(maps_ringbuf_full_drops_and_errors)
{
    pl_map *rb = new_map(PL_MAP_RINGBUF, 0, 0, 4096);
    pl_map *arr = new_map(PL_MAP_ARRAY, 4, 4, 1);
    CHECK(rb && arr);
    uint8_t rec[120] = {0};
    int written = 0;
    int64_t rc;
    while ((rc = pl_ringbuf_output(rb, rec, sizeof(rec), 0)) == 0)
        written++;
    CHECK_EQ(rc, -EAGAIN);
    CHECK_EQ(written, 4096 / 128);
    CHECK_EQ(pl_ringbuf_drops(rb), 1);
    CHECK_EQ(pl_map_count(rb), 4096);
    struct collected c = {.stop_after = 3};
    CHECK_EQ(pl_ringbuf_consume(rb, collect, &c), 3);
    CHECK_EQ(pl_ringbuf_output(rb, rec, sizeof(rec), 0), 0); /* room again */
    c.stop_after = 0;
    CHECK_EQ(pl_ringbuf_consume(rb, collect, &c), written - 3 + 1);

    CHECK_EQ(pl_ringbuf_output(rb, rec, 4096, 0), -EAGAIN); /* never fits */
    CHECK_EQ(pl_ringbuf_drops(rb), 2);
    CHECK_EQ(pl_ringbuf_output(rb, rec, 8, 1 | 2), 0);       /* wakeup flags ignored */
    CHECK_EQ(pl_ringbuf_output(rb, rec, 8, 4), -EINVAL);
    CHECK_EQ(pl_ringbuf_output(arr, rec, 8, 0), -EINVAL);
    CHECK_EQ(pl_ringbuf_consume(arr, collect, &c), PL_EINVAL);
    uint32_t key = 0;
    CHECK_EQ(pl_map_lookup(rb, &key, rec), PL_EINVAL);
    CHECK_EQ(pl_map_update(rb, &key, rec, 0), PL_EINVAL);
    CHECK_EQ(pl_map_delete(rb, &key), PL_EINVAL);
    CHECK_EQ(pl_map_next_key(rb, NULL, &key), PL_EINVAL);
    CHECK(rb->ops->lookup(rb, &key) == NULL);
    free_map(rb);
    free_map(arr);
}

/* ------------------------------------------------------------ concurrency */

struct hash_worker {
    pl_map *map;
    unsigned id;
    bool allow_e2big;
    unsigned bad;
};

/* Values are {key, ~key, writer}: a reader that sees anything else read a
 * torn or freed element. */
static void *hash_worker(void *p)
{
    struct hash_worker *w = p;
    pl_thread_register(); /* a read-side section needs a registered thread */
    uint64_t rng = 0x9e3779b97f4a7c15ull * (w->id + 1);
    for (int i = 0; i < 10000; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        uint64_t key = rng % 200;
        unsigned op = (unsigned)(rng >> 32) % 10;
        if (op < 6) {
            pl_rcu_read_lock();
            const uint64_t *v = w->map->ops->lookup(w->map, &key);
            if (v && (v[0] != key || v[1] != ~key || v[2] >= 8))
                w->bad++;
            pl_rcu_read_unlock();
        } else if (op < 9) {
            uint64_t value[3] = {key, ~key, w->id};
            pl_rcu_read_lock();
            int rc = w->map->ops->update(w->map, &key, value, PL_MAP_ANY);
            pl_rcu_read_unlock();
            if (rc != 0 && !(rc == PL_E2BIG && w->allow_e2big))
                w->bad++;
        } else {
            int rc = pl_map_delete(w->map, &key);
            if (rc != 0 && rc != PL_ENOENT)
                w->bad++;
        }
    }
    return NULL;
}

static void run_hash_workers(pl_map *map, bool allow_e2big, bool *ok)
{
    enum { T = 8 };
    struct hash_worker w[T];
    pthread_t t[T];
    for (unsigned i = 0; i < T; i++) {
        w[i] = (struct hash_worker){map, i, allow_e2big, 0};
        pthread_create(&t[i], NULL, hash_worker, &w[i]);
    }
    for (unsigned i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    *ok = true;
    for (unsigned i = 0; i < T; i++)
        *ok &= w[i].bad == 0;
}

static unsigned count_by_iteration(pl_map *map)
{
    uint64_t key, next;
    unsigned n = 0;
    for (const void *cur = NULL; pl_map_next_key(map, cur, &next) == 0; cur = &key) {
        key = next;
        n++;
    }
    return n;
}

TEST(maps_hash_concurrent_lookup_update_delete)
{
    pl_map *map = new_map(PL_MAP_HASH, 8, 24, 150); /* fewer slots than keys: E2BIG occurs */
    CHECK(map);
    bool ok;
    run_hash_workers(map, true, &ok);
    CHECK(ok);
    CHECK(pl_map_count(map) <= 150);
    CHECK_EQ(count_by_iteration(map), pl_map_count(map));
    free_map(map);
}

TEST(maps_lru_concurrent_inserts_always_succeed)
{
    pl_map *map = new_map(PL_MAP_LRU_HASH, 8, 24, 32);
    CHECK(map);
    bool ok;
    run_hash_workers(map, false, &ok); /* an LRU insert evicts instead of failing */
    CHECK(ok);
    CHECK(pl_map_count(map) <= 32);
    CHECK_EQ(count_by_iteration(map), pl_map_count(map));
    free_map(map);
}

struct producer {
    pl_map *rb;
    uint32_t id;
    uint32_t records;
    _Atomic bool *give_up; /* set by the consumer on a bad record */
};

static void *producer(void *p)
{
    struct producer *pr = p;
    for (uint32_t seq = 0; seq < pr->records && !atomic_load(pr->give_up);) {
        uint32_t rec[6] = {pr->id, seq, seq * 3, 0, 0, 0};
        uint32_t size = 8 + 4 * (seq % 5);
        if (pl_ringbuf_output(pr->rb, rec, size, 0) == 0)
            seq++;
        else
            sched_yield(); /* full: let the consumer drain */
    }
    return NULL;
}

struct received {
    uint32_t next_seq[4];
    unsigned bad, total;
};

static int check_record(void *user, const void *data, uint32_t size)
{
    struct received *r = user;
    uint32_t rec[6];
    memcpy(rec, data, size < sizeof(rec) ? size : sizeof(rec));
    if (size < 8 || rec[0] >= 4 || rec[1] != r->next_seq[rec[0]] || size != 8 + 4 * (rec[1] % 5) ||
        (size >= 12 && rec[2] != rec[1] * 3))
        r->bad++;
    else
        r->next_seq[rec[0]]++;
    r->total++;
    return 0;
}

TEST(maps_ringbuf_concurrent_producers_lose_nothing)
{
    enum { P = 4, N = 10000 };
    pl_map *rb = new_map(PL_MAP_RINGBUF, 0, 0, 4096);
    CHECK(rb);
    struct producer pr[P];
    pthread_t t[P];
    _Atomic bool give_up = false;
    for (uint32_t i = 0; i < P; i++) {
        pr[i] = (struct producer){rb, i, N, &give_up};
        pthread_create(&t[i], NULL, producer, &pr[i]);
    }
    struct received r = {{0}, 0, 0};
    while (r.total < P * N && !r.bad)
        if (pl_ringbuf_consume(rb, check_record, &r) == 0)
            sched_yield();
    atomic_store(&give_up, true);
    for (int i = 0; i < P; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(r.bad, 0);
    CHECK_EQ(r.total, P * N);
    for (int i = 0; i < P; i++)
        CHECK_EQ(r.next_seq[i], N);
    CHECK_EQ(pl_map_count(rb), 0);
    free_map(rb);
}

/* ------------------------------------------------------------ helpers */

struct log_capture {
    char last[600];
    int lines;
};

static void capture_log(void *user, int level, const char *msg)
{
    struct log_capture *c = user;
    (void)level;
    snprintf(c->last, sizeof(c->last), "%s", msg);
    c->lines++;
}

#define CALL(rt, id, a, b, c, d, e)                                                      \
    (rt)->helper_fns[id]((uint64_t)(a), (uint64_t)(b), (uint64_t)(c), (uint64_t)(d), (uint64_t)(e))

static int64_t printk(pl_runtime *rt, const char *fmt, uint64_t a, uint64_t b, uint64_t c)
{
    return (int64_t)CALL(rt, PL_HELPER_TRACE_PRINTK, (uintptr_t)fmt, strlen(fmt) + 1, a, b, c);
}

TEST(maps_helpers_trace_printk_formats_integers_only)
{
    struct log_capture cap = {{0}, 0};
    struct pl_runtime_opts opts = {0, capture_log, &cap};
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(&opts, &rt, NULL), 0);
    CHECK_EQ(printk(rt, "v=%d u=%u x=%x\n", (uint64_t)-5, 0x100000007ull, 255), 13);
    CHECK(strcmp(cap.last, "v=-5 u=7 x=ff") == 0);
    CHECK_EQ(printk(rt, "%lld %llu %lx", (uint64_t)-1, (uint64_t)-1, 0xabcdef012345ull), 36);
    CHECK(strcmp(cap.last, "-1 18446744073709551615 abcdef012345") == 0);
    printk(rt, "[%5d|%-4i|%04x]", 42, 7, 0xa);
    CHECK(strcmp(cap.last, "[   42|7   |000a]") == 0);
    printk(rt, "[%#x|%p|100%%]", 0xb, 0x1000, 0);
    CHECK(strcmp(cap.last, "[0xb|0x1000|100%]") == 0);
    int lines = cap.lines;
    CHECK_EQ(printk(rt, "%s", 0x1000, 0, 0), -EINVAL);
    CHECK_EQ(printk(rt, "%n", 0x1000, 0, 0), -EINVAL);
    CHECK_EQ(printk(rt, "%#d", 1, 0, 0), -EINVAL);
    CHECK_EQ(printk(rt, "%d %d %d %d", 1, 2, 3), -EINVAL);
    CHECK_EQ(printk(rt, "trailing %", 1, 2, 3), -EINVAL);
    CHECK_EQ(printk(rt, "%123d", 1, 2, 3), -EINVAL);
    const char unterminated[4] = {'a', 'b', 'c', 'd'};
    CHECK_EQ((int64_t)CALL(rt, PL_HELPER_TRACE_PRINTK, (uintptr_t)unterminated, 4, 0, 0, 0), -EINVAL);
    CHECK_EQ(cap.lines, lines); /* rejected calls log nothing */
    char longfmt[700];
    memset(longfmt, 'y', sizeof(longfmt) - 1);
    longfmt[sizeof(longfmt) - 1] = 0;
    CHECK_EQ(printk(rt, longfmt, 0, 0, 0), 511); /* truncated, not overflowed */
    pl_runtime_free(rt);
}

TEST(maps_helpers_map_access_like_programs)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    const struct pl_helper_spec *spec = pl_helper_find(rt, PL_HELPER_MAP_LOOKUP_ELEM);
    CHECK(spec && spec->args[0] == PL_ARG_MAP && spec->args[1] == PL_ARG_MAP_KEY &&
          spec->ret == PL_RET_MAP_VALUE_OR_NULL);
    spec = pl_helper_find(rt, PL_HELPER_RINGBUF_OUTPUT);
    CHECK(spec && spec->args[1] == PL_ARG_MEM && spec->args[2] == PL_ARG_MEM_SIZE);
    CHECK(pl_helper_find_by_name(rt, "bpf_ktime_get_coarse_ns") != NULL);

    pl_map *map = new_map(PL_MAP_HASH, 4, 8, 2);
    CHECK(map);
    uint32_t key = 9;
    uint64_t value = 77;
    pl_thread_register();
    pl_rcu_read_lock();
    uint64_t miss = CALL(rt, PL_HELPER_MAP_LOOKUP_ELEM, map, &key, 0, 0, 0);
    int64_t up = (int64_t)CALL(rt, PL_HELPER_MAP_UPDATE_ELEM, map, &key, &value, PL_MAP_NOEXIST, 0);
    int64_t again = (int64_t)CALL(rt, PL_HELPER_MAP_UPDATE_ELEM, map, &key, &value, PL_MAP_NOEXIST, 0);
    uint64_t *hit = (uint64_t *)(uintptr_t)CALL(rt, PL_HELPER_MAP_LOOKUP_ELEM, map, &key, 0, 0, 0);
    uint64_t got = hit ? *hit : 0;
    int64_t del = (int64_t)CALL(rt, PL_HELPER_MAP_DELETE_ELEM, map, &key, 0, 0, 0);
    int64_t del2 = (int64_t)CALL(rt, PL_HELPER_MAP_DELETE_ELEM, map, &key, 0, 0, 0);
    pl_rcu_read_unlock();
    CHECK_EQ(miss, 0);
    CHECK_EQ(up, 0);
    CHECK_EQ(again, -EEXIST);
    CHECK_EQ(got, 77);
    CHECK_EQ(del, 0);
    CHECK_EQ(del2, -ENOENT);

    pl_map *rb = new_map(PL_MAP_RINGBUF, 0, 0, 4096);
    CHECK(rb);
    CHECK_EQ(CALL(rt, PL_HELPER_RINGBUF_OUTPUT, rb, &value, 8, 0, 0), 0);
    CHECK_EQ((int64_t)CALL(rt, PL_HELPER_RINGBUF_OUTPUT, map, &value, 8, 0, 0), -EINVAL);
    struct collected c = {0};
    CHECK_EQ(pl_ringbuf_consume(rb, collect, &c), 1);
    CHECK_EQ(c.first_word[0], 77);
    free_map(rb);
    free_map(map);
    pl_runtime_free(rt);
}

TEST(maps_helpers_time_random_cpu)
{
    pl_runtime *rt;
    CHECK_EQ(pl_runtime_new(NULL, &rt, NULL), 0);
    uint64_t prev = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t now = CALL(rt, PL_HELPER_KTIME_GET_NS, 0, 0, 0, 0, 0);
        CHECK(now >= prev);
        prev = now;
    }
    CHECK(CALL(rt, PL_HELPER_KTIME_GET_COARSE_NS, 0, 0, 0, 0, 0) > 0);
    uint64_t first = CALL(rt, PL_HELPER_GET_PRANDOM_U32, 0, 0, 0, 0, 0);
    bool differs = false;
    for (int i = 0; i < 16; i++) {
        uint64_t r = CALL(rt, PL_HELPER_GET_PRANDOM_U32, 0, 0, 0, 0, 0);
        CHECK(r <= UINT32_MAX);
        differs |= r != first;
    }
    CHECK(differs);
    CHECK(CALL(rt, PL_HELPER_GET_SMP_PROCESSOR_ID, 0, 0, 0, 0, 0) < 65536);
    pl_runtime_free(rt);

    struct pl_runtime_opts bare = {PL_RUNTIME_NO_STD_HELPERS, NULL, NULL};
    CHECK_EQ(pl_runtime_new(&bare, &rt, NULL), 0);
    CHECK(rt->helper_fns[PL_HELPER_MAP_LOOKUP_ELEM] == NULL);
    pl_runtime_free(rt);
}

TEST(maps_runtime_memory_limit_refuses_and_releases)
{
    pl_runtime *rt;
    pl_error err;
    CHECK_EQ(pl_runtime_new(&(struct pl_runtime_opts){.map_memory_limit = 1u << 20}, &rt, &err), 0);
    struct pl_map_spec big = {.name = "big", .type = PL_MAP_ARRAY, .key_size = 4, .value_size = 1024,
                              .max_entries = 768}; /* 768 KiB */
    pl_map *a, *b;
    CHECK_EQ(pl_map_create(rt, &big, &a, &err), 0);
    CHECK_EQ(pl_map_create(rt, &big, &b, &err), PL_E2BIG);
    CHECK(strstr(err.msg, "past their limit of 1048576 bytes"));
    pl_map_put(a);
    pl_rcu_barrier(); /* the first map is released after its grace period */
    CHECK_EQ(pl_map_create(rt, &big, &b, &err), 0);
    pl_map_put(b);
    pl_runtime_free(rt);
}

TEST(maps_large_array_is_zeroed_and_usable)
{
    pl_runtime *rt;
    pl_error err;
    CHECK_EQ(pl_runtime_new(NULL, &rt, &err), 0);
    struct pl_map_spec spec = {.name = "large", .type = PL_MAP_ARRAY, .key_size = 4, .value_size = 8,
                               .max_entries = 1u << 20}; /* 8 MiB: mapped lazily */
    pl_map *m;
    CHECK_EQ(pl_map_create(rt, &spec, &m, &err), 0);
    uint32_t key = (1u << 20) - 1;
    uint64_t value = 1, got = 7;
    CHECK_EQ(pl_map_lookup(m, &key, &got), 0);
    CHECK_EQ(got, 0);
    CHECK_EQ(pl_map_update(m, &key, &value, PL_MAP_ANY), 0);
    CHECK_EQ(pl_map_lookup(m, &key, &got), 0);
    CHECK_EQ(got, 1);
    pl_map_put(m);
    pl_runtime_free(rt);
}
