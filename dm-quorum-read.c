// SPDX-License-Identifier: GPL-2.0
/*
 * dm-quorum read vote: what to return when every leg of a quorum read has
 * completed, after QEMU's quorum_vote():
 *
 *  1. compare the first leg that read with every other (memcmp): when all
 *     agree, that is the answer, with no hashing;
 *  2. otherwise hash each leg's data with the table's shash algorithm and
 *     count votes per distinct hash (dm-quorum-vote.c); the version with
 *     the most votes wins, ties going to the version first cast by the
 *     highest leg index;
 *  3. a winner with fewer than <threshold> votes fails the read; legs that
 *     voted for another version are counted as mismatching.
 *
 * With blkverify (2 legs, threshold 2) any difference fails the read and
 * logs where the copies first differ, as QEMU's blkverify mode does,
 * without QEMU's exit().
 *
 * Step 1 never sleeps and may run in the completion's context; steps 2
 * and 3 allocate and hash, so they run in the target's workqueue.
 */
#include <crypto/hash.h>
#include <linux/highmem.h>

#include "dm-quorum.h"
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

static bool chunk_equal(void *a, void *b, unsigned int len, u64 *pos)
{
	return !memcmp(a, b, len);
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

static bool legs_equal(struct quorum_io *io, unsigned int a, unsigned int b)
{
	return walk_legs(io, a, b, chunk_equal, NULL);
}

/* Make the caller's pages hold @leg's data. */
static void copy_to_caller(struct quorum_io *io, unsigned int leg)
{
	if (leg != io->primary)
		walk_legs(io, io->primary, leg, chunk_copy_to_a, NULL);
}

/*
 * The common case: every leg in @ok returned the same bytes.  Puts the
 * agreed data in the caller's pages and returns true; never sleeps.
 */
bool quorum_read_agree(struct quorum_io *io, unsigned long ok)
{
	unsigned int ref = __ffs(ok), leg;

	for_each_leg(leg, ok)
		if (leg != ref && !legs_equal(io, ref, leg))
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

struct digests {
	u8 *buf;		/* QUORUM_MAX_LEGS digests, by leg index */
	unsigned int size;
};

static bool same_digest(unsigned int a, unsigned int b, const void *ctx)
{
	const struct digests *d = ctx;

	return !memcmp(d->buf + a * d->size, d->buf + b * d->size, d->size);
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

static int hash_and_count(struct quorum_io *io, unsigned long ok,
			  struct quorum_vote *v)
{
	struct quorum_c *qc = io->qc;
	struct digests d = { .size = qc->digest_size };
	unsigned int leg;
	int r = 0;

	d.buf = mempool_alloc(&qc->digest_pool, GFP_NOIO);
	for_each_leg(leg, ok) {
		r = hash_leg(io, leg, d.buf + leg * d.size);
		if (r)
			break;
	}
	if (!r)
		quorum_vote(ok, same_digest, &d, v);
	mempool_free(d.buf, &qc->digest_pool);
	return r;
}

/*
 * The legs in @ok (at least <threshold> of them) disagree: vote.  Puts
 * the winning data in the caller's pages and the outvoted legs in
 * @outvoted.  May sleep.
 */
blk_status_t quorum_read_vote(struct quorum_io *io, unsigned long ok,
			      unsigned long *outvoted)
{
	struct quorum_c *qc = io->qc;
	struct quorum_vote v;
	unsigned int leg;
	int r;

	if (qc->blkverify)
		return blkverify_mismatch(io, ok);

	r = hash_and_count(io, ok, &v);
	if (r) {
		DMERR_LIMIT("%s hash failed: %d", crypto_shash_alg_name(qc->hash), r);
		quorum_io_failed(io);
		return BLK_STS_IOERR;
	}
	/* No version has a quorum: nobody is outvoted, nothing is returned. */
	if (v.votes < qc->threshold) {
		quorum_io_failed(io);
		return BLK_STS_IOERR;
	}
	for_each_leg(leg, ok) {
		if (!quorum_voted_for_winner(&v, leg)) {
			atomic_inc(&qc->legs[leg].mismatches);
			quorum_io_report_bad(io, leg, BLK_STS_OK);
			__set_bit(leg, outvoted);
		}
	}
	if (!(ok & BIT(io->primary)) || !quorum_voted_for_winner(&v, io->primary))
		copy_to_caller(io, v.winner);
	return BLK_STS_OK;
}
