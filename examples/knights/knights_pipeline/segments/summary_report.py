with open(get_data_fn("summary.txt"), "w") as f:
    f.write("\n".join(names) + "\n")
