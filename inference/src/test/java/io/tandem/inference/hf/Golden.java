package io.tandem.inference.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The golden fixtures under test resources, and the README's comparison rule. */
final class Golden {

  static final double ATOL = 1e-4;
  static final double RTOL = 1e-4;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, JsonNode> CACHE = new ConcurrentHashMap<>();

  private Golden() {}

  static Path fixture(String name) {
    try {
      return Path.of(Golden.class.getResource("/fixtures/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static JsonNode golden(String fixture) {
    return CACHE.computeIfAbsent(
        fixture,
        f -> {
          try {
            return JSON.readTree(fixture(f).resolve("golden.json").toFile());
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
  }

  /** A nested JSON list flattened row-major. */
  static float[] floats(JsonNode node) {
    List<Float> out = new ArrayList<>();
    flatten(node, out);
    float[] a = new float[out.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = out.get(i);
    }
    return a;
  }

  static int[] ints(JsonNode node) {
    if (node.isInt()) {
      return new int[] {node.asInt()};
    }
    int[] a = new int[node.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = node.get(i).asInt();
    }
    return a;
  }

  private static void flatten(JsonNode node, List<Float> out) {
    if (node.isArray()) {
      node.forEach(n -> flatten(n, out));
    } else {
      out.add(node.floatValue());
    }
  }

  static float[] concat(float[][] rows) {
    int n = 0;
    for (float[] r : rows) {
      n += r.length;
    }
    float[] out = new float[n];
    int o = 0;
    for (float[] r : rows) {
      System.arraycopy(r, 0, out, o, r.length);
      o += r.length;
    }
    return out;
  }

  /** {@code |actual - golden| <= atol + rtol * |golden|} everywhere, as the fixture README recommends. */
  static void assertClose(String what, float[] golden, float[] actual) {
    assertEquals(golden.length, actual.length, what + ": element count");
    for (int i = 0; i < golden.length; i++) {
      double diff = Math.abs((double) actual[i] - golden[i]);
      if (!(diff <= ATOL + RTOL * Math.abs(golden[i]))) {
        double max = 0;
        for (int j = 0; j < golden.length; j++) {
          max = Math.max(max, Math.abs((double) actual[j] - golden[j]));
        }
        fail(what + ": element " + i + " is " + actual[i] + ", golden " + golden[i] + " (max |diff| " + max + ")");
      }
    }
  }

  static int argmax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return best;
  }
}
