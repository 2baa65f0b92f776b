// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum read vote: what to return when every leg of a quorum read has
 * completed, after QEMU's quorum_vote():
 *
 *  1. compare the first leg that read with every other, in one pass, two
 *     legs at a time (dm-quorum-compare.c): when all agree, that is the
 *     answer, with no hashing;
 *  2. otherwise the legs vote (dm-quorum-vote.c) on versions of the data:
 *     the legs equal to the first are one version; when two or more legs
 *     differ from it, they are told apart by hashing their data with the
 *     table's shash algorithm, as QEMU hashes every leg.  The version with
 *     the most votes wins, ties going to the version first cast by the
 *     highest leg index;
 *  3. a winner with fewer than <threshold> votes fails the read; legs that
 *     voted for another version are counted as mismatching.
 *
 * With blkverify (2 legs, threshold 2) any difference fails the read and
 * logs where the copies first differ, as QEMU's blkverify mode does,
 * without QEMU's exit().
 *
 * Steps 1 and 3 never sleep and may run in the completion's context; a
 * vote that hashes allocates, so it runs in the target's workqueue.
 */
#include <crypto/hash.h>
#include <linux/highmem.h>

#include "dm-quorum.h"
#include "dm-quorum-read.h"
#include "dm-quorum-compare.h"
#include "dm-quorum-vote.h"

/* Where a leg's data is: the caller's bio for the primary, else its own. */
static void leg_data(struct quorum_io *io, unsigned int leg,
		     struct bio **bio, struct bvec_iter *iter)
{
	if (leg == io->primary) {
		*bio = io->bio;
		*iter = io->iter;
	} else {
		*bio = io->leg_bio[leg];
		*iter = (struct bvec_iter) { .bi_size = io->iter.bi_size };
	}
}

/* Returns false to stop the walk; @pos is the byte offset of @a and @b. */
typedef bool (*chunk_fn)(void *a, void *b, unsigned int len, u64 *pos);

/*
 * Walk the data of two legs side by side, in pieces that lie within one
 * page on both sides; stop early when @fn returns false.
 */
static bool walk_legs(struct quorum_io *io, unsigned int la, unsigned int lb,
		      chunk_fn fn, u64 *pos)
{
	struct bvec_iter ia, ib;
	struct bio *a, *b;
	bool go_on = true;

	leg_data(io, la, &a, &ia);
	leg_data(io, lb, &b, &ib);
	while (go_on && ia.bi_size) {
		struct bio_vec va = bio_iter_iovec(a, ia);
		struct bio_vec vb = bio_iter_iovec(b, ib);
		unsigned int len = min(va.bv_len, vb.bv_len);
		void *pa = bvec_kmap_local(&va);
		void *pb = bvec_kmap_local(&vb);

		go_on = fn(pa, pb, len, pos);
		kunmap_local(pb);
		kunmap_local(pa);
		bio_advance_iter_single(a, &ia, len);
		bio_advance_iter_single(b, &ib, len);
	}
	return go_on;
}

static bool chunk_copy_to_a(void *a, void *b, unsigned int len, u64 *pos)
{
	memcpy(a, b, len);
	return true;
}

/* Advances *pos to the first differing byte, if any. */
static bool chunk_find_difference(void *a, void *b, unsigned int len,
				  u64 *pos)
{
	const u8 *pa = a, *pb = b;
	unsigned int i;

	if (!memcmp(a, b, len)) {
		*pos += len;
		return true;
	}
	for (i = 0; pa[i] == pb[i]; i++)
		;
	*pos += i;
	return false;
}

/* Make the caller's pages hold @leg's data. */
static void copy_to_caller(struct quorum_io *io, unsigned int leg)
{
	if (leg != io->primary)
		walk_legs(io, io->primary, leg, chunk_copy_to_a, NULL);
}

struct leg_cursor {
	struct bio *bio;
	struct bvec_iter iter;
};

/* The next piece of @c's data, at most @len bytes long. */
static struct bio_vec cursor_piece(struct leg_cursor *c, unsigned int len)
{
	struct bio_vec bv = bio_iter_iovec(c->bio, c->iter);

	bv.bv_len = min(bv.bv_len, len);
	return bv;
}

static void cursor_advance(struct leg_cursor *c, unsigned int len)
{
	bio_advance_iter_single(c->bio, &c->iter, len);
}

/*
 * Compare the next @len bytes of legs @la and @lb (@lb may be -1: none)
 * with @pr, the reference's; clear from @equal the legs that differ.
 */
static void compare_piece(struct leg_cursor *c, const void *pr,
			  unsigned int len, unsigned int la, int lb,
			  unsigned long *equal)
{
	struct bio_vec va = cursor_piece(&c[la], len), vb;
	void *pa = bvec_kmap_local(&va), *pb;
	unsigned int same;

	if (lb < 0) {
		same = quorum_mem_equal(pr, pa, len);
	} else {
		vb = cursor_piece(&c[lb], len);
		pb = bvec_kmap_local(&vb);
		same = quorum_mem_equal2(pr, pa, pb, len);
		kunmap_local(pb);
		cursor_advance(&c[lb], len);
		if (!(same & 2))
			__clear_bit(lb, equal);
	}
	kunmap_local(pa);
	cursor_advance(&c[la], len);
	if (!(same & 1))
		__clear_bit(la, equal);
}

/*
 * The legs of @legs whose data equals @ref's.  One pass over the data,
 * piece by piece, comparing the legs' pieces with @ref's two at a time
 * while it is still in the cache; a leg is dropped at its first
 * difference.
 */
static unsigned long legs_equal_to(struct quorum_io *io, unsigned int ref,
				   unsigned long legs)
{
	struct leg_cursor c[QUORUM_MAX_LEGS], r;
	unsigned long equal = legs;
	unsigned int leg;

	leg_data(io, ref, &r.bio, &r.iter);
	for_each_leg(leg, legs)
		leg_data(io, leg, &c[leg].bio, &c[leg].iter);
	while (equal && r.iter.bi_size) {
		struct bio_vec rv = cursor_piece(&r, UINT_MAX);
		unsigned long todo = equal;
		void *pr;

		for_each_leg(leg, equal)
			rv.bv_len = cursor_piece(&c[leg], rv.bv_len).bv_len;
		pr = bvec_kmap_local(&rv);
		while (todo) {
			unsigned int la = __ffs(todo);
			int lb;

			__clear_bit(la, &todo);
			lb = todo ? (int)__ffs(todo) : -1;
			if (lb >= 0)
				__clear_bit(lb, &todo);
			compare_piece(c, pr, rv.bv_len, la, lb, &equal);
		}
		kunmap_local(pr);
		cursor_advance(&r, rv.bv_len);
	}
	return equal;
}

/*
 * The common case: every leg in @ok returned the same bytes.  Puts the
 * agreed data in the caller's pages and returns true; never sleeps.
 * Either way io->agree holds the legs that returned the same bytes as
 * the first leg of @ok, for quorum_read_vote().
 */
bool quorum_read_agree(struct quorum_io *io, unsigned long ok)
{
	unsigned int ref = __ffs(ok);

	io->agree = legs_equal_to(io, ref, ok & ~BIT(ref)) | BIT(ref);
	if (io->agree != ok)
		return false;
	copy_to_caller(io, ref);
	return true;
}

/* ---- blkverify -------------------------------------------------------- */

static blk_status_t blkverify_mismatch(struct quorum_io *io, unsigned long ok)
{
	u64 offset = (u64)io->iter.bi_sector << SECTOR_SHIFT;
	u64 pos = 0;

	walk_legs(io, __ffs(ok), __fls(ok), chunk_find_difference, &pos);
	/* QEMU's message; QEMU then exits, a kernel fails the read */
	DMERR_LIMIT("offset=%llu bytes=%u contents mismatch at offset %llu",
		    offset, io->iter.bi_size, offset + pos);
	quorum_io_failed(io);
	return BLK_STS_IOERR;
}

/* ---- the vote --------------------------------------------------------- */

/*
 * How the legs that voted are grouped into versions: the legs that
 * compared equal to the first one (io->agree) are one version, known
 * without hashing; the others are told apart by their digests, computed
 * only when there are two or more of them.
 */
struct versions {
	unsigned long agree;
	u8 *digests;		/* QUORUM_MAX_LEGS digests, by leg index */
	unsigned int size;
};

static bool same_version(unsigned int a, unsigned int b, const void *ctx)
{
	const struct versions *d = ctx;
	bool in_a = test_bit(a, &d->agree), in_b = test_bit(b, &d->agree);

	if (in_a || in_b)
		return in_a && in_b;
	if (!d->digests)	/* a single leg differs: nothing to compare */
		return a == b;
	return !memcmp(d->digests + a * d->size, d->digests + b * d->size,
		       d->size);
}

static int hash_leg(struct quorum_io *io, unsigned int leg, u8 *out)
{
	SHASH_DESC_ON_STACK(desc, io->qc->hash);
	struct bvec_iter iter;
	struct bio *bio;
	int r;

	desc->tfm = io->qc->hash;
	r = crypto_shash_init(desc);
	leg_data(io, leg, &bio, &iter);
	while (!r && iter.bi_size) {
		struct bio_vec bv = bio_iter_iovec(bio, iter);
		void *p = bvec_kmap_local(&bv);

		r = crypto_shash_update(desc, p, bv.bv_len);
		kunmap_local(p);
		bio_advance_iter_single(bio, &iter, bv.bv_len);
	}
	if (!r)
		r = crypto_shash_final(desc, out);
	shash_desc_zero(desc);
	return r;
}

/* The legs of @ok that disagree with the first and with each other. */
static unsigned long legs_to_hash(struct quorum_io *io, unsigned long ok)
{
	unsigned long others = ok & ~io->agree;

	return hweight_long(others) > 1 ? others : 0;
}

/*
 * Whether quorum_read_vote() may sleep (to allocate and hash); if not,
 * it can run in a completion's context.
 */
bool quorum_read_vote_sleeps(struct quorum_io *io, unsigned long ok)
{
	return !io->qc->blkverify && legs_to_hash(io, ok);
}

static int hash_and_count(struct quorum_io *io, unsigned long ok,
			  struct quorum_vote *v)
{
	struct quorum_c *qc = io->qc;
	unsigned long hashed = legs_to_hash(io, ok);
	struct versions d = { .agree = io->agree, .size = qc->digest_size };
	unsigned int leg;
	int r = 0;

	if (hashed)
		d.digests = mempool_alloc(&qc->digest_pool, GFP_NOIO);
	for_each_leg(leg, hashed) {
		r = hash_leg(io, leg, d.digests + leg * d.size);
		if (r)
			break;
	}
	if (!r)
		quorum_vote(ok, same_version, &d, v);
	if (hashed)
		mempool_free(d.digests, &qc->digest_pool);
	return r;
}

/*
 * The legs in @ok (at least <threshold> of them) disagree, as found by
 * quorum_read_agree(): vote.  Puts the winning data in the caller's
 * pages and the outvoted legs in @outvoted.  May sleep, see
 * quorum_read_vote_sleeps().
 */
blk_status_t quorum_read_vote(struct quorum_io *io, unsigned long ok,
			      bool recover, unsigned long *outvoted)
{
	struct quorum_c *qc = io->qc;
	struct quorum_vote v;
	unsigned int leg;
	int r;

	if (qc->blkverify && !recover)
		return blkverify_mismatch(io, ok);

	r = hash_and_count(io, ok, &v);
	if (r) {
		DMERR_LIMIT("%s hash failed: %d", crypto_shash_alg_name(qc->hash), r);
		quorum_io_failed(io);
		return BLK_STS_IOERR;
	}
	/*
	 * No version has a quorum: nobody is outvoted, nothing is returned;
	 * but a recovery takes the winner anyway.
	 */
	if (v.votes < qc->threshold && !recover) {
		quorum_io_failed(io);
		return BLK_STS_IOERR;
	}
	for_each_leg(leg, ok) {
		if (quorum_voted_for_winner(&v, leg))
			continue;
		__set_bit(leg, outvoted);
		/* a recovery's differences are unacknowledged writes */
		if (!recover) {
			atomic_inc(&qc->legs[leg].mismatches);
			quorum_io_report_bad(io, leg, BLK_STS_OK);
		}
	}
	if (!(ok & BIT(io->primary)) || !quorum_voted_for_winner(&v, io->primary))
		copy_to_caller(io, v.winner);
	return BLK_STS_OK;
}
