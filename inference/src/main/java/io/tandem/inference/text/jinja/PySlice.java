package io.tandem.inference.text.jinja;

import java.util.ArrayList;
import java.util.List;

/** A Python slice {@code [start:stop:step]}, applied to lists and strings with Python's rules. */
public record PySlice(Integer start, Integer stop, Integer step) {

  /** @throws IllegalArgumentException when {@code step} is 0, as Python's {@code ValueError} */
  public PySlice {
    if (step != null && step == 0) throw new IllegalArgumentException("slice step cannot be zero");
  }

  /** Called from templates as {@code __slice__(start, stop, step)}; {@code none} leaves a bound open. */
  public static PySlice of(Object start, Object stop, Object step) {
    return new PySlice(toInt(start), toInt(stop), toInt(step));
  }

  // Jinjava hands subscripts to resolvers as strings, so a slice travels as this text.
  static final String MARKER = "__pyslice__:";

  @Override
  public String toString() {
    return MARKER + str(start) + ":" + str(stop) + ":" + str(step);
  }

  private static String str(Integer i) {
    return i == null ? "" : i.toString();
  }

  /** The slice a subscript string stands for, or null if it is an ordinary subscript. */
  static PySlice parse(Object property) {
    if (!(property instanceof String s) || !s.startsWith(MARKER)) return null;
    String[] parts = s.substring(MARKER.length()).split(":", -1);
    return new PySlice(parseInt(parts[0]), parseInt(parts[1]), parseInt(parts[2]));
  }

  private static Integer parseInt(String s) {
    return s.isEmpty() ? null : Integer.valueOf(s);
  }

  private static Integer toInt(Object o) {
    if (o == null) return null;
    if (o instanceof Number n) return n.intValue();
    return Integer.valueOf(o.toString().trim());
  }

  /** The indices this slice selects from a sequence of {@code length} items, in order. */
  int[] indices(int length) {
    int st = step == null ? 1 : step;
    int lo;
    int hi;
    if (st > 0) {
      lo = start == null ? 0 : clamp(start, length, 0, length);
      hi = stop == null ? length : clamp(stop, length, 0, length);
    } else {
      lo = start == null ? length - 1 : clamp(start, length, -1, length - 1);
      hi = stop == null ? -1 : clamp(stop, length, -1, length - 1);
    }
    int count = st > 0 ? Math.max(0, (hi - lo + st - 1) / st) : Math.max(0, (lo - hi - st - 1) / -st);
    int[] out = new int[count];
    for (int k = 0; k < count; k++) out[k] = lo + k * st;
    return out;
  }

  // Python adds the length to negative bounds, then clamps into [lower, upper].
  private static int clamp(int bound, int length, int lower, int upper) {
    int b = bound < 0 ? bound + length : bound;
    return Math.max(lower, Math.min(upper, b));
  }

  List<Object> apply(List<?> list) {
    int[] idx = indices(list.size());
    List<Object> out = new ArrayList<>(idx.length);
    for (int i : idx) out.add(list.get(i));
    return out;
  }

  String apply(String s) {
    // Python indexes code points; templates slice mostly ASCII, but do it right anyway.
    int[] cps = s.codePoints().toArray();
    int[] idx = indices(cps.length);
    StringBuilder out = new StringBuilder(idx.length);
    for (int i : idx) out.appendCodePoint(cps[i]);
    return out.toString();
  }
}
