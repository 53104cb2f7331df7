package io.tandem.inference.text.jinja;

import java.beans.FeatureDescriptor;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Gives template values Python's behaviour where chat templates rely on it: {@code str} methods
 * ({@code split}, {@code strip('\n')}, {@code startswith}, ...), {@code dict.get(key, default)},
 * {@code dict.items()} as {@link PyTuple}s, string indexing and slices.
 *
 * <p>Without it, Jinjava would call Java's methods of the same name, which differ quietly:
 * {@code String.split} takes a regex, {@code String.strip} takes no characters, and
 * {@code startswith} does not exist. This resolver runs before Jinjava's own.
 */
public final class PythonResolver extends ELResolver {

  @Override
  public Object getValue(ELContext context, Object base, Object property) {
    if (base == null || property == null) return null;
    PySlice slice = property instanceof PySlice given ? given : PySlice.parse(property);
    if (slice != null) {
      if (base instanceof String s) {
        context.setPropertyResolved(true);
        return slice.apply(s);
      }
      List<?> list = asList(base);
      if (list != null) {
        context.setPropertyResolved(true);
        return slice.apply(list);
      }
    }
    Integer index = property instanceof Number n ? Integer.valueOf(n.intValue()) : integer(property);
    if (base instanceof String s && index != null) {
      context.setPropertyResolved(true);
      int[] cps = s.codePoints().toArray();
      int i = index < 0 ? index + cps.length : index;
      if (i < 0 || i >= cps.length) {
        throw new IndexOutOfBoundsException("string index " + index + " out of range for length " + cps.length);
      }
      return new String(cps, i, 1);
    }
    return null;
  }

  @Override
  public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
    if (base == null || method == null) return null;
    Object[] args = params == null ? new Object[0] : params;
    String name = method.toString();
    if (base instanceof String s) {
      if (!StrMethods.supports(name)) return null;
      Object result = StrMethods.call(s, name, args);
      context.setPropertyResolved(true);
      return result;
    }
    if (base instanceof Map<?, ?> map) {
      switch (name) {
        case "get":
          if (args.length == 1 || args.length == 2) {
            context.setPropertyResolved(true);
            Object key = args[0];
            if (map.containsKey(key)) return map.get(key);
            return args.length == 2 ? args[1] : null;
          }
          return null;
        case "keys":
          context.setPropertyResolved(true);
          return new ArrayList<>(map.keySet());
        case "values":
          context.setPropertyResolved(true);
          return new ArrayList<>(map.values());
        case "items": {
          context.setPropertyResolved(true);
          List<PyTuple> items = new ArrayList<>(map.size());
          for (Map.Entry<?, ?> e : map.entrySet()) items.add(new PyTuple(Arrays.asList(e.getKey(), e.getValue())));
          return items;
        }
        default:
          return null;
      }
    }
    return null;
  }

  private static Integer integer(Object property) {
    if (!(property instanceof String s) || s.isEmpty() || s.length() > 10) return null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!(Character.isDigit(c) || (i == 0 && c == '-' && s.length() > 1))) return null;
    }
    return Integer.valueOf(s);
  }

  static List<?> asList(Object base) {
    if (base instanceof List<?> l) return l;
    if (base instanceof Collection<?> c) return new ArrayList<>(c);
    if (base != null && base.getClass().isArray()) {
      int n = Array.getLength(base);
      List<Object> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) out.add(Array.get(base, i));
      return out;
    }
    return null;
  }

  @Override
  public Class<?> getType(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public void setValue(ELContext context, Object base, Object property, Object value) {}

  @Override
  public boolean isReadOnly(ELContext context, Object base, Object property) {
    return false;
  }

  @Override
  public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
    return null;
  }

  @Override
  public Class<?> getCommonPropertyType(ELContext context, Object base) {
    return null;
  }

  /** Python's {@code str} methods, over Java strings. */
  static final class StrMethods {
    private static final List<String> NAMES = Arrays.asList(
        "split", "rsplit", "splitlines", "strip", "lstrip", "rstrip", "startswith", "endswith",
        "upper", "lower", "title", "capitalize", "replace", "find", "rfind", "count", "join",
        "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "removeprefix",
        "removesuffix");

    static boolean supports(String name) {
      return NAMES.contains(name);
    }

    static Object call(String s, String name, Object[] a) {
      switch (name) {
        case "split": return split(s, str(a, 0), intArg(a, 1, -1));
        case "rsplit": return rsplit(s, str(a, 0), intArg(a, 1, -1));
        case "splitlines": return splitlines(s);
        case "strip": return rstrip(lstrip(s, str(a, 0)), str(a, 0));
        case "lstrip": return lstrip(s, str(a, 0));
        case "rstrip": return rstrip(s, str(a, 0));
        case "startswith": return affix(s, a[0], true);
        case "endswith": return affix(s, a[0], false);
        case "upper": return s.toUpperCase(Locale.ROOT);
        case "lower": return s.toLowerCase(Locale.ROOT);
        case "title": return title(s);
        case "capitalize": return s.isEmpty() ? s
            : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
        case "replace": return replace(s, str(a, 0), str(a, 1), intArg(a, 2, -1));
        case "find": return (long) s.indexOf(str(a, 0));
        case "rfind": return (long) s.lastIndexOf(str(a, 0));
        case "count": return count(s, str(a, 0));
        case "join": return join(s, a[0]);
        case "isdigit": return !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
        case "isalpha": return !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
        case "isalnum": return !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
        case "isspace": return !s.isEmpty() && s.codePoints().allMatch(StrMethods::isSpace);
        case "isupper": return s.codePoints().anyMatch(Character::isUpperCase)
            && s.codePoints().noneMatch(Character::isLowerCase);
        case "islower": return s.codePoints().anyMatch(Character::isLowerCase)
            && s.codePoints().noneMatch(Character::isUpperCase);
        case "removeprefix": return s.startsWith(str(a, 0)) ? s.substring(str(a, 0).length()) : s;
        case "removesuffix": {
          String suffix = str(a, 0);
          return !suffix.isEmpty() && s.endsWith(suffix) ? s.substring(0, s.length() - suffix.length()) : s;
        }
        default: throw new IllegalArgumentException("str has no method " + name);
      }
    }

    private static String str(Object[] a, int i) {
      return i < a.length && a[i] != null ? a[i].toString() : null;
    }

    private static int intArg(Object[] a, int i, int dflt) {
      return i < a.length && a[i] instanceof Number n ? n.intValue() : dflt;
    }

    static boolean isSpace(int cp) {
      return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || cp == 0x85;
    }

    static List<String> split(String s, String sep, int maxsplit) {
      List<String> out = new ArrayList<>();
      if (sep == null) {
        // Python: runs of whitespace separate, and leading/trailing whitespace yields nothing.
        int i = 0;
        int n = s.length();
        while (i < n) {
          while (i < n && isSpace(s.charAt(i))) i++;
          if (i >= n) break;
          if (maxsplit >= 0 && out.size() == maxsplit) {
            out.add(rstrip(s.substring(i), null));
            return out;
          }
          int j = i;
          while (j < n && !isSpace(s.charAt(j))) j++;
          out.add(s.substring(i, j));
          i = j;
        }
        return out;
      }
      if (sep.isEmpty()) throw new IllegalArgumentException("empty separator");
      int from = 0;
      while (maxsplit < 0 || out.size() < maxsplit) {
        int at = s.indexOf(sep, from);
        if (at < 0) break;
        out.add(s.substring(from, at));
        from = at + sep.length();
      }
      out.add(s.substring(from));
      return out;
    }

    static List<String> rsplit(String s, String sep, int maxsplit) {
      if (maxsplit < 0) return split(s, sep, -1);
      if (sep == null) {
        List<String> words = split(s, null, -1);
        if (words.size() <= maxsplit + 1) return words;
        // Keep the head as one piece, with its inner whitespace intact.
        List<String> out = new ArrayList<>();
        String rest = rstrip(s, null);
        for (int k = 0; k < maxsplit; k++) {
          int end = rest.length();
          int start = end;
          while (start > 0 && !isSpace(rest.charAt(start - 1))) start--;
          out.add(0, rest.substring(start, end));
          rest = rstrip(rest.substring(0, start), null);
        }
        out.add(0, rest);
        return out;
      }
      List<String> out = new ArrayList<>();
      int end = s.length();
      while (out.size() < maxsplit) {
        int at = s.lastIndexOf(sep, end - sep.length());
        if (at < 0) break;
        out.add(0, s.substring(at + sep.length(), end));
        end = at;
      }
      out.add(0, s.substring(0, end));
      return out;
    }

    static List<String> splitlines(String s) {
      List<String> out = new ArrayList<>();
      int start = 0;
      int i = 0;
      while (i < s.length()) {
        char c = s.charAt(i);
        if (c == '\n' || c == '\r') {
          out.add(s.substring(start, i));
          i += c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n' ? 2 : 1;
          start = i;
        } else {
          i++;
        }
      }
      if (start < s.length()) out.add(s.substring(start));
      return out;
    }

    /** Python's {@code str.lstrip(chars)}, by code points as Python's strings are (an emoji's half is not one: tester60j). */
    static String lstrip(String s, String chars) {
      int i = 0;
      while (i < s.length()) {
        int cp = s.codePointAt(i);
        if (!strips(cp, chars)) break;
        i += Character.charCount(cp);
      }
      return s.substring(i);
    }

    /** Python's {@code str.rstrip(chars)}, by code points. */
    static String rstrip(String s, String chars) {
      int j = s.length();
      while (j > 0) {
        int cp = s.codePointBefore(j);
        if (!strips(cp, chars)) break;
        j -= Character.charCount(cp);
      }
      return s.substring(0, j);
    }

    private static boolean strips(int cp, String chars) {
      return chars == null ? isSpace(cp) : chars.codePoints().anyMatch(c -> c == cp);
    }

    private static boolean affix(String s, Object affix, boolean prefix) {
      if (affix instanceof Collection<?> options) {
        for (Object o : options) if (affix(s, o, prefix)) return true;
        return false;
      }
      String a = String.valueOf(affix);
      return prefix ? s.startsWith(a) : s.endsWith(a);
    }

    private static String title(String s) {
      StringBuilder out = new StringBuilder(s.length());
      boolean previousCased = false;
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        out.append(previousCased ? Character.toLowerCase(c) : Character.toUpperCase(c));
        previousCased = Character.isLetter(c);
      }
      return out.toString();
    }

    private static String replace(String s, String old, String with, int count) {
      if (count < 0) return s.replace(old, with);
      StringBuilder out = new StringBuilder();
      int from = 0;
      for (int k = 0; k < count; k++) {
        int at = s.indexOf(old, from);
        if (at < 0) break;
        out.append(s, from, at).append(with);
        from = at + old.length();
        if (old.isEmpty()) {
          if (from < s.length()) out.append(s.charAt(from));
          from++;
        }
      }
      if (from <= s.length()) out.append(s.substring(Math.min(from, s.length())));
      return out.toString();
    }

    private static long count(String s, String sub) {
      if (sub.isEmpty()) return s.length() + 1L;
      long n = 0;
      int from = 0;
      while ((from = s.indexOf(sub, from)) >= 0) {
        n++;
        from += sub.length();
      }
      return n;
    }

    private static String join(String sep, Object items) {
      List<?> list = asList(items);
      if (list == null) throw new IllegalArgumentException("join needs a list, got " + items);
      StringBuilder out = new StringBuilder();
      for (int i = 0; i < list.size(); i++) {
        if (i > 0) out.append(sep);
        out.append(list.get(i));
      }
      return out.toString();
    }
  }
}
