package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tandem.orchestrator.http.ReasoningSplitter.Mode;
import io.tandem.orchestrator.http.ReasoningSplitter.Piece;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Chat output splits into reasoning_content and content as vLLM's reasoning parsers split it. */
class ReasoningSplitterTest {

  @Test
  void deepseekR1OutputStartsInsideTheThoughtWhenTheTemplateOpenedIt() {
    assertArrayEquals(new String[] {"Let me think.", "\n\nThe answer is 3."},
        ReasoningSplitter.split("Let me think.</think>\n\nThe answer is 3.", Mode.DEEPSEEK_R1));
    assertArrayEquals(new String[] {"Let me think.", "3"}, ReasoningSplitter.split("<think>Let me think.</think>3", Mode.DEEPSEEK_R1));
    assertArrayEquals(new String[] {"still thinking", null}, ReasoningSplitter.split("still thinking", Mode.DEEPSEEK_R1));
  }

  @Test
  void thinkTagsSplitOnlyWhatIsBetweenTheTags() {
    assertArrayEquals(new String[] {null, "plain answer"}, ReasoningSplitter.split("plain answer", Mode.THINK_TAGS));
    assertArrayEquals(new String[] {"hmm", "yes"}, ReasoningSplitter.split("<think>hmm</think>yes", Mode.THINK_TAGS));
    assertArrayEquals(new String[] {null, "a <think>b</think>"}, ReasoningSplitter.split("a <think>b</think>", Mode.NONE));
  }

  @Test
  void aTagSplitAcrossDeltasNeverLeaksHalfATag() {
    ReasoningSplitter s = new ReasoningSplitter(Mode.DEEPSEEK_R1);
    List<Piece> pieces = new ArrayList<>();
    for (String delta : List.of("So x", " = 3.</th", "ink", ">\n\nAnswer: 3", " <")) pieces.addAll(s.feed(delta));
    pieces.addAll(s.flush());
    StringBuilder reasoning = new StringBuilder();
    StringBuilder content = new StringBuilder();
    for (Piece p : pieces) {
      (p.reasoning() ? reasoning : content).append(p.text());
      assertEquals(-1, p.text().indexOf("</th"), "no piece carries part of the tag: " + p);
    }
    assertEquals("So x = 3.", reasoning.toString());
    assertEquals("\n\nAnswer: 3 <", content.toString());
  }
}
