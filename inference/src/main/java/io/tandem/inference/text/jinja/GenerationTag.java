package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter.InterpreterScopeClosable;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;

/**
 * Hugging Face's {@code {% generation %}...{% endgeneration %}} tag (transformers' {@code AssistantTracker}
 * extension), which training templates put around assistant text to mark its tokens: the body is rendered as it is,
 * in a scope of its own as transformers renders it (a call block).
 */
public final class GenerationTag implements Tag {

  private static final long serialVersionUID = 1L;

  @Override
  public String getName() {
    return "generation";
  }

  @Override
  public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
    try (InterpreterScopeClosable scope = interpreter.enterScope()) {
      StringBuilder out = new StringBuilder();
      for (Node child : tagNode.getChildren()) out.append(child.render(interpreter));
      return out.toString();
    }
  }
}
