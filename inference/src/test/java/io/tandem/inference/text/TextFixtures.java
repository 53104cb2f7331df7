package io.tandem.inference.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.ChatMessage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The fixture folders under src/test/resources/fixtures (copies of shared/fixtures). */
final class TextFixtures {

  static final ObjectMapper JSON = new ObjectMapper();

  private TextFixtures() {}

  static Path dir(String name) {
    URL url = TextFixtures.class.getResource("/fixtures/" + name);
    if (url == null) throw new IllegalStateException("fixture folder missing from the test classpath: " + name);
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static JsonNode json(Path file) {
    try {
      return JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static JsonNode qwenGolden() {
    return json(dir("qwen-tokenizer").resolve("golden.json"));
  }

  static int[] ints(JsonNode array) {
    int[] out = new int[array.size()];
    for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
    return out;
  }

  static List<ChatMessage> messages(JsonNode array) {
    List<ChatMessage> out = new ArrayList<>();
    for (JsonNode m : array) out.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
    return out;
  }
}
