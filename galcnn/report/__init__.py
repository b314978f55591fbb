"""What the README and the HTML report show beside the figures: the README's results block
and the result tables as HTML."""
