"""The grammar stage: segments into TR3 loops (Lark LALR grammars in grammars/)."""

