package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.tandem.protocol.Role;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The warning of a pair whose token ids are of two vocabularies: said of two tokenizer files that
 * differ, and, of an engine known by its model name alone (a spec without {@code tokenizer=}), as
 * what cannot be told (tester45c read "their tokenizer.json files differ" of one demo tokenizer).
 */
class MixedVocabularyWarningTest {

  private static List<String> warned(Consumer<SyncEncoder> keys) {
    Logger logger = (Logger) LoggerFactory.getLogger(SyncEncoder.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    Level before = logger.getLevel();
    logger.setLevel(Level.INFO);
    try {
      keys.accept(new SyncEncoder());
      return lines.list.stream().filter(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage).toList();
    } finally {
      logger.detachAppender(lines);
      logger.setLevel(before);
    }
  }

  @Test
  void twoTokenizerFilesThatDifferAreSaidToDifferOnce() {
    List<String> lines = warned(s -> {
      s.tokenizerKey(Role.small, "sha256:aaaa1111bbbb2222cccc");
      s.tokenizerKey(Role.large, "sha256:dddd3333eeee4444ffff");
      s.tokenizerKey(Role.large, "sha256:dddd3333eeee4444ffff");
    });
    assertEquals(1, lines.size(), lines.toString());
    assertTrue(lines.get(0).startsWith("the small and large models have different vocabularies (their tokenizer.json files"
        + " differ: sha256:aaaa1111bbbb and sha256:dddd3333eeee)"), lines.get(0));
  }

  @Test
  void anEngineKnownByItsModelNameAloneIsSaidToBeUnknownNotDifferent() {
    List<String> lines = warned(s -> {
      s.tokenizerKey(Role.small, "openai:demo-small-x");
      s.tokenizerKey(Role.large, "sha256:1d4178613763aaaa0000");
    });
    assertEquals(1, lines.size(), lines.toString());
    assertTrue(lines.get(0).startsWith("whether the small and large models share a vocabulary cannot be told (openai:demo-small-x"
        + " and sha256:1d4178613763: an engine spec without tokenizer=DIR is known by its model name alone)"), lines.get(0));
    assertTrue(lines.get(0).endsWith("give the engine spec tokenizer=DIR (its model's Hugging Face folder) where clients use"
        + " token ids"), lines.get(0));
  }

  @Test
  void oneVocabularyIsNoWarning() {
    assertEquals(List.of(), warned(s -> {
      s.tokenizerKey(Role.small, "sha256:0123456789abcdef0123");
      s.tokenizerKey(Role.large, "sha256:0123456789abcdef0123");
    }));
  }
}
