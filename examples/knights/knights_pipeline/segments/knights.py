# an orphan segment: one instance per pushed knight, which it passes on
seg_output = [get_input()]
