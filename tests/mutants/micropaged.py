"""Realistic micropaged mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "floor_pages",
        "counts pages with floor division, dropping the partly filled last page",
        "return -(-num_tokens // page_size)",
        "return num_tokens // page_size",
    ),
    Mutant(
        "ceil_plus_one",
        "counts pages as n // B + 1, one too many whenever B divides n",
        "return -(-num_tokens // page_size)",
        "return num_tokens // page_size + 1",
    ),
    Mutant(
        "allocate_pops_front",
        "takes pages from the front of the free list instead of its end",
        "page = self.free_list.pop()",
        "page = self.free_list.pop(0)",
    ),
    Mutant(
        "append_stores_reference",
        "stores the caller's key and value lists themselves, so a later change to them rewrites the pool",
        "        self.k_pages[page][slot] = list(key)\n        self.v_pages[page][slot] = list(value)\n",
        "        self.k_pages[page][slot] = key\n        self.v_pages[page][slot] = value\n",
    ),
    Mutant(
        "fork_no_incref",
        "fork copies the block table but never adds a reference to the shared pages",
        "        for page in table:\n            self.allocator.share(page)\n",
        "",
    ),
    Mutant(
        "fork_aliases_table",
        "fork gives the child the parent's block table object instead of a copy",
        "table = list(self.block_tables[parent_id])",
        "table = self.block_tables[parent_id]",
    ),
    Mutant(
        "release_ignores_refcount",
        "release returns the page to the free list on every release, shared or not",
        "        if self.refcount[page] == 0:\n            self.free_list.append(page)\n",
        "        self.free_list.append(page)\n",
    ),
    Mutant(
        "no_double_free_check",
        "release does not refuse a page that is already free (double free)",
        '            raise ValueError(f"page {page} is already free: double free")',
        "            pass",
    ),
    Mutant(
        "never_frees",
        "release drops the refcount but never puts the page back on the free list",
        "        if self.refcount[page] == 0:\n            self.free_list.append(page)\n",
        "",
    ),
    Mutant(
        "no_copy_on_write",
        "appends into a shared partial page in place (no copy on write)",
        "elif self.allocator.refcount[table[-1]] > 1:",
        "elif False:",
    ),
    Mutant(
        "copy_even_if_private",
        "copies the last page on every write into it, shared or not",
        "elif self.allocator.refcount[table[-1]] > 1:",
        "elif self.allocator.refcount[table[-1]] >= 1:",
    ),
    Mutant(
        "cow_releases_first",
        "copy-on-write releases the shared page before allocating its copy (corrupts on OutOfPages)",
        "            private = self.allocator.allocate()\n"
        "            for s in range(slot):\n"
        "                self.k_pages[private][s] = list(self.k_pages[shared][s])\n"
        "                self.v_pages[private][s] = list(self.v_pages[shared][s])\n"
        "            table[-1] = private\n"
        "            self.allocator.release(shared)\n",
        "            self.allocator.release(shared)\n"
        "            private = self.allocator.allocate()\n"
        "            for s in range(slot):\n"
        "                self.k_pages[private][s] = list(self.k_pages[shared][s])\n"
        "                self.v_pages[private][s] = list(self.v_pages[shared][s])\n"
        "            table[-1] = private\n",
    ),
    Mutant(
        "cow_leaks_shared_page",
        "copy-on-write takes a private page but never releases its reference to the shared one",
        "            table[-1] = private\n            self.allocator.release(shared)\n",
        "            table[-1] = private\n",
    ),
    Mutant(
        "cow_forgets_prefix",
        "copy-on-write takes a fresh page but does not copy the filled slots into it",
        "            for s in range(slot):\n                self.k_pages[private][s]",
        "            for s in range(0):\n                self.k_pages[private][s]",
    ),
    Mutant(
        "slot_index_mod",
        "looks up the block table with position % page_size instead of position // page_size",
        "block, slot = divmod(position, self.page_size)",
        "block, slot = position % self.page_size, position % self.page_size",
    ),
    Mutant(
        "append_writes_wrong_page",
        "append writes into block table entry length % page_size",
        "page = table[length // self.page_size]",
        "page = table[length % self.page_size]",
    ),
    Mutant(
        "preempt_oldest",
        "preempts the oldest sequence instead of the newest",
        "newest = next(reversed(self.block_tables))",
        "newest = next(iter(self.block_tables))",
    ),
    Mutant(
        "attention_reads_whole_last_page",
        "paged attention reads every slot of the last page, stale ones included",
        "filled = min(B, length - block * B)",
        "filled = B",
    ),
    Mutant(
        "attention_assumes_contiguous_pages",
        "paged attention reads pages first_page, first_page + 1, ... instead of following the table",
        "for block, page in enumerate(cache.block_tables[seq_id]):",
        "for block, page in enumerate(range(cache.block_tables[seq_id][0], cache.block_tables[seq_id][0] + len(cache.block_tables[seq_id]))):",
    ),
    Mutant(
        "unstable_softmax",
        "paged attention exponentiates raw scores (no max subtraction)",
        "weights = [math.exp(s - peak) for s in scores]",
        "weights = [math.exp(s) for s in scores]",
    ),
    Mutant(
        "naive_reserves_tokens",
        "counts naive reservation as the tokens used, not max_len per request",
        "return paged, len(lengths) * max_len",
        "return paged, sum(lengths)",
    ),
    Mutant(
        "every_sample_copies",
        "counts a copy-on-write copy for every sample, the last writer included",
        "copies = num_samples - 1 if prompt_len % page_size else 0",
        "copies = num_samples if prompt_len % page_size else 0",
    ),
    Mutant(
        "partial_prompt_page_shared",
        "treats the partial prompt page as shared forever",
        "shared = prompt_len // page_size",
        "shared = pages_needed(prompt_len, page_size)",
    ),
]
