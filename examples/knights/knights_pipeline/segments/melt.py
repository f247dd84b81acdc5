# one instance per (knight, quality): writes the pair to a file and passes it on
knight, quality = get_input("knights"), get_input("quality")
with open(get_data_fn("result.txt"), "w") as f:
    f.write(knight + " " + quality + "\n")
logger.info("melted %s and %s", knight, quality)
set_output(knight + " " + quality)
