package io.tandem.orchestrator.session;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.Span;
import io.tandem.protocol.config.PaperConfigLoader;
import io.tandem.protocol.config.SpeculativeConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A scripted case of fixtures/scripted: two scripts, a config, and what the paper's loop made of them. */
record ScriptedCase(List<String> small, List<String> large, SpeculativeConfig config, String expectedText,
    List<String> expectedSpans, int expectedLargeTokens) {

  static ScriptedCase example() {
    return load("example");
  }

  static ScriptedCase load(String name) {
    try {
      ObjectMapper json = new ObjectMapper();
      Path caseFile = Path.of(ScriptedCase.class.getResource("/fixtures/scripted/" + name + ".case.json").toURI());
      Path expectedFile = Path.of(ScriptedCase.class.getResource("/fixtures/scripted/" + name + ".expected.json").toURI());
      JsonNode c = json.readTree(caseFile.toFile());
      JsonNode e = json.readTree(expectedFile.toFile());
      List<String> spans = new ArrayList<>();
      for (JsonNode s : e.get("spans")) spans.add(s.get("author").asText() + ": " + s.get("text").asText());
      return new ScriptedCase(strings(c.get("small")), strings(c.get("large")),
          PaperConfigLoader.loadJsonCase(caseFile).config(), e.get("text").asText(), spans,
          e.get("large_tokens").asInt());
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    } catch (URISyntaxException ex) {
      throw new IllegalStateException(ex);
    }
  }

  /** Spans by author, consecutive ones joined, empty ones (a lone eos) left out, as "author: text". */
  static List<String> merged(List<Span> spans) {
    List<String> out = new ArrayList<>();
    String author = null;
    StringBuilder text = new StringBuilder();
    for (Span s : spans) {
      if (s.text().isEmpty()) continue;
      if (!s.author().name().equals(author)) {
        if (author != null) out.add(author + ": " + text);
        author = s.author().name();
        text.setLength(0);
      }
      text.append(s.text());
    }
    if (author != null) out.add(author + ": " + text);
    return out;
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    for (JsonNode n : array) out.add(n.asText());
    return out;
  }
}
