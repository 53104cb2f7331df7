package io.tandem.inference;

import java.util.Arrays;

/** A growable run of token ids: the token half of every {@link Sequence}. */
public final class TokenBuffer {
  private int[] ids = new int[64];
  private int length;

  /** The number of ids held. */
  public int length() {
    return length;
  }

  /** The id at {@code position}; throws IndexOutOfBoundsException outside [0, length). */
  public int at(int position) {
    if (position < 0 || position >= length) throw new IndexOutOfBoundsException(position);
    return ids[position];
  }

  /** Appends ids at the end, growing as needed. */
  public void append(int[] more) {
    if (length + more.length > ids.length) ids = Arrays.copyOf(ids, Math.max(ids.length * 2, length + more.length));
    System.arraycopy(more, 0, ids, length, more.length);
    length += more.length;
  }

  /** Keeps the first {@code newLength} ids; throws IllegalArgumentException outside [0, length]. */
  public void truncate(int newLength) {
    if (newLength < 0 || newLength > length)
      throw new IllegalArgumentException("cannot truncate a sequence of " + length + " to " + newLength);
    length = newLength;
  }

  /** The ids in [from, to), copied; throws IndexOutOfBoundsException outside the buffer's array. */
  public int[] range(int from, int to) {
    return Arrays.copyOfRange(ids, from, to);
  }
}
